-- Issue 13: `cdrs` and `orphan_cdrs` range-partitioned by month of the
-- call's start (`started_at`), like `call_steps` (V13), so that retention
-- drops or rewrites whole months instead of deleting rows.
--
-- On a populated database this copies nothing: each table as it was becomes
-- the partition of everything before next month, and the maintenance task
-- (src/maintenance.rs) creates the monthly partitions ahead from then on. A
-- default partition catches a call whose month has no partition.
--
-- What it costs on N rows, all under the table's exclusive lock (CDRs wait
-- in the writer's queue and are answered 503 only if it fills):
-- * one scan checking the bound (the CHECK below, which lets ATTACH and
--   SET NOT NULL skip theirs); when rows dated after the bound exist (a
--   report with a start in the future), one more moving them out — they
--   are put back through the new table;
-- * the unique index (tenant_id, call_id, started_at) the partitioned key
--   needs, and the claims' index — unless they were built beforehand
--   without locking, as the README's "Keeping years of data" says for big
--   tables (an index of that name that exists is reused as it is):
--     CREATE UNIQUE INDEX CONCURRENTLY cdrs_partition_key
--         ON cdrs (tenant_id, call_id, started_at);
--     CREATE UNIQUE INDEX CONCURRENTLY orphan_cdrs_partition_key
--         ON orphan_cdrs (call_id, started_at);
--     CREATE INDEX CONCURRENTLY cdr_claims_claimed_at
--         ON cdr_claims USING brin (claimed_at);
--
-- `started_at` was a generated column (V4), which cannot be a partition
-- key: it becomes a plain column (its values are kept) that the CDR writer
-- fills with the same rule (storage::cdrs::insert_cdrs).
--
-- Deduplication stays exact and independent of the partition: a call is
-- claimed once in `cdr_claims` (V3), by call id, platform-wide, and the
-- primary keys now include `started_at`, which catches a retry of a report
-- with a start even after its claim expired (claims are kept 30 days:
-- storage::cdrs::CLAIM_DAYS; the index below lets the maintenance task
-- find the expired ones).

ALTER TABLE cdrs ALTER COLUMN started_at DROP EXPRESSION;
ALTER TABLE orphan_cdrs ALTER COLUMN started_at DROP EXPRESSION;

CREATE UNIQUE INDEX IF NOT EXISTS cdrs_partition_key ON cdrs (tenant_id, call_id, started_at);
CREATE UNIQUE INDEX IF NOT EXISTS orphan_cdrs_partition_key ON orphan_cdrs (call_id, started_at);

ALTER TABLE cdrs RENAME TO cdrs_before;
ALTER INDEX cdrs_tenant_started RENAME TO cdrs_before_tenant_started;
ALTER INDEX cdrs_partition_key RENAME TO cdrs_before_partition_key;
ALTER TABLE cdrs_before DROP CONSTRAINT cdrs_pkey;
ALTER TABLE orphan_cdrs RENAME TO orphan_cdrs_before;
ALTER INDEX orphan_cdrs_did RENAME TO orphan_cdrs_before_did;
ALTER INDEX orphan_cdrs_started RENAME TO orphan_cdrs_before_started;
ALTER INDEX orphan_cdrs_partition_key RENAME TO orphan_cdrs_before_partition_key;
ALTER TABLE orphan_cdrs_before DROP CONSTRAINT orphan_cdrs_pkey;

CREATE TABLE cdrs (
    tenant_id         bigint      NOT NULL REFERENCES tenants (tenant_id),
    call_id           text        NOT NULL,
    did               text        NOT NULL,
    caller_id         text        NOT NULL,
    target            text        NOT NULL,
    call_time         timestamptz,
    call_start        timestamptz,
    duration_secs     bigint,
    dial_secs         bigint,
    status            text        NOT NULL,
    cause             smallint,
    raw               jsonb       NOT NULL,
    received_at       timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, call_id, started_at)
) PARTITION BY RANGE (started_at);
CREATE INDEX cdrs_tenant_started ON cdrs (tenant_id, started_at)
    INCLUDE (status, duration_secs, dial_secs, cause, caller_id, did, target);

CREATE TABLE orphan_cdrs (
    call_id           text        NOT NULL,
    did               text        NOT NULL,
    caller_id         text        NOT NULL,
    target            text        NOT NULL,
    call_time         timestamptz,
    call_start        timestamptz,
    duration_secs     bigint,
    dial_secs         bigint,
    status            text        NOT NULL,
    cause             smallint,
    raw               jsonb       NOT NULL,
    received_at       timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz NOT NULL,
    PRIMARY KEY (call_id, started_at)
) PARTITION BY RANGE (started_at);
CREATE INDEX orphan_cdrs_did ON orphan_cdrs (did, received_at);
CREATE INDEX orphan_cdrs_started ON orphan_cdrs (started_at);

DO $$
DECLARE
    -- Next month's start in UTC, whatever the session's time zone.
    bound timestamptz := (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
BEGIN
    -- Reports dated after the bound (a start in the future) leave the old
    -- table, to come back through the new one once it is whole. The bound's
    -- check is tried first: when it holds (the usual case) that is the one
    -- scan of the table.
    CREATE TEMP TABLE cdrs_ahead (LIKE cdrs_before) ON COMMIT DROP;
    BEGIN
        EXECUTE format('ALTER TABLE cdrs_before ADD CONSTRAINT cdrs_before_bound
                            CHECK (started_at IS NOT NULL AND started_at < %L)', bound);
    EXCEPTION WHEN check_violation THEN
        WITH moved AS (DELETE FROM cdrs_before WHERE started_at >= bound RETURNING *)
            INSERT INTO cdrs_ahead SELECT * FROM moved;
        EXECUTE format('ALTER TABLE cdrs_before ADD CONSTRAINT cdrs_before_bound
                            CHECK (started_at IS NOT NULL AND started_at < %L)', bound);
    END;
    ALTER TABLE cdrs_before ALTER COLUMN started_at SET NOT NULL;
    EXECUTE format('ALTER TABLE cdrs ATTACH PARTITION cdrs_before FOR VALUES FROM (MINVALUE) TO (%L)', bound);
    ALTER TABLE cdrs_before DROP CONSTRAINT cdrs_before_bound;

    CREATE TEMP TABLE orphan_cdrs_ahead (LIKE orphan_cdrs_before) ON COMMIT DROP;
    BEGIN
        EXECUTE format('ALTER TABLE orphan_cdrs_before ADD CONSTRAINT orphan_cdrs_before_bound
                            CHECK (started_at IS NOT NULL AND started_at < %L)', bound);
    EXCEPTION WHEN check_violation THEN
        WITH moved AS (DELETE FROM orphan_cdrs_before WHERE started_at >= bound RETURNING *)
            INSERT INTO orphan_cdrs_ahead SELECT * FROM moved;
        EXECUTE format('ALTER TABLE orphan_cdrs_before ADD CONSTRAINT orphan_cdrs_before_bound
                            CHECK (started_at IS NOT NULL AND started_at < %L)', bound);
    END;
    ALTER TABLE orphan_cdrs_before ALTER COLUMN started_at SET NOT NULL;
    EXECUTE format('ALTER TABLE orphan_cdrs ATTACH PARTITION orphan_cdrs_before FOR VALUES FROM (MINVALUE) TO (%L)', bound);
    ALTER TABLE orphan_cdrs_before DROP CONSTRAINT orphan_cdrs_before_bound;
END $$;

CREATE TABLE cdrs_default PARTITION OF cdrs DEFAULT;
CREATE TABLE orphan_cdrs_default PARTITION OF orphan_cdrs DEFAULT;

INSERT INTO cdrs (tenant_id, call_id, did, caller_id, target, call_time, call_start,
                  duration_secs, dial_secs, status, cause, raw, received_at, started_at)
    SELECT tenant_id, call_id, did, caller_id, target, call_time, call_start,
           duration_secs, dial_secs, status, cause, raw, received_at, started_at
    FROM pg_temp.cdrs_ahead;
INSERT INTO orphan_cdrs (call_id, did, caller_id, target, call_time, call_start,
                         duration_secs, dial_secs, status, cause, raw, received_at, started_at)
    SELECT call_id, did, caller_id, target, call_time, call_start,
           duration_secs, dial_secs, status, cause, raw, received_at, started_at
    FROM pg_temp.orphan_cdrs_ahead;

-- Claims are kept a bounded time (storage::cdrs::CLAIM_DAYS): the
-- maintenance task finds the expired ones by this index. BRIN, not a
-- B-tree: claims arrive in time order, so a block range index is a few
-- pages and costs the CDR writer nothing per row (a B-tree costs it an
-- index insertion per call, and took 4.9 s to build on 10 million claims
-- against 2.5 s).
CREATE INDEX IF NOT EXISTS cdr_claims_claimed_at ON cdr_claims USING brin (claimed_at);

-- A tenant's CDRs are kept this many whole months before the current one,
-- then removed by the maintenance task; NULL: for good (the default). Its
-- bounds are the API's (maintenance::MIN_CDR_RETENTION_MONTHS).
ALTER TABLE tenants ADD COLUMN cdr_retention_months integer;
