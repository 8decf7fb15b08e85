-- Issue 13: call_steps range-partitioned by month of the step's time, so
-- that retention drops whole months (detach, drop) instead of deleting
-- rows. On a populated database this takes seconds, not a copy: the
-- existing table becomes one partition covering everything before next
-- month (its rows are checked against that bound by one scan, which the
-- CHECK below lets ATTACH skip), its indexes become the partitioned
-- indexes' parts, and the maintenance task (src/maintenance.rs) creates the
-- monthly partitions ahead from then on. A default partition catches a
-- step whose month has no partition yet (the task reports it).
--
-- No primary key: nothing refers to a step, and a key would have to
-- include `at` (the partition key) and be built over the old rows, which
-- is what this migration avoids. `step_id` stays unique in practice (one
-- sequence), and orders a call's steps within the same instant.

ALTER TABLE call_steps RENAME TO call_steps_before;
ALTER INDEX call_steps_call RENAME TO call_steps_before_call;
ALTER INDEX call_steps_time RENAME TO call_steps_before_time;
DROP TRIGGER call_steps_report_rollup_stale ON call_steps_before;

-- The step ids go on from where the old identity left off.
CREATE SEQUENCE call_steps_step_id AS bigint;
SELECT setval('call_steps_step_id',
              coalesce(pg_sequence_last_value(pg_get_serial_sequence('call_steps_before', 'step_id')), 0) + 1,
              false);
ALTER TABLE call_steps_before ALTER COLUMN step_id DROP IDENTITY;
ALTER TABLE call_steps_before DROP CONSTRAINT call_steps_pkey;

CREATE TABLE call_steps (
    tenant_id    bigint      NOT NULL REFERENCES tenants (tenant_id),
    step_id      bigint      NOT NULL DEFAULT nextval('call_steps_step_id'),
    call_id      text        NOT NULL,
    at           timestamptz NOT NULL,
    did          text        NOT NULL,
    caller_id    text        NOT NULL,
    menu         text        NOT NULL,
    dtmf         text        NOT NULL,
    node_key     text,
    outcome      text        NOT NULL,
    action       text        NOT NULL,
    from_node    text,
    flow_version integer,
    fallback     text
) PARTITION BY RANGE (at);
ALTER SEQUENCE call_steps_step_id OWNED BY call_steps.step_id;
CREATE INDEX call_steps_call ON call_steps (tenant_id, call_id, at);
CREATE INDEX call_steps_time ON call_steps (tenant_id, at);

-- The old rows: one partition up to the start of next month.
DO $$
DECLARE
    bound timestamptz := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '1 month';
BEGIN
    EXECUTE format('ALTER TABLE call_steps_before ADD CONSTRAINT call_steps_before_bound CHECK (at < %L)', bound);
    EXECUTE format('ALTER TABLE call_steps ATTACH PARTITION call_steps_before FOR VALUES FROM (MINVALUE) TO (%L)', bound);
END $$;
ALTER TABLE call_steps_before DROP CONSTRAINT call_steps_before_bound;
CREATE TABLE call_steps_default PARTITION OF call_steps DEFAULT;

CREATE TRIGGER call_steps_report_rollup_stale AFTER INSERT ON call_steps
    FOR EACH ROW WHEN (NEW.at < now() - interval '22 hours')
    EXECUTE FUNCTION report_rollup_stale_step();

-- Steps the step log could not write (its queue was full, or the database
-- refused them or was down), per tenant, minute and reason: the funnel of a
-- period with any says how many of its steps are missing.
CREATE TABLE step_log_gaps (
    tenant_id bigint      NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    minute    timestamptz NOT NULL,
    reason    text        NOT NULL CHECK (reason IN ('queue_full', 'refused', 'database')),
    dropped   bigint      NOT NULL,
    PRIMARY KEY (tenant_id, minute, reason)
);
