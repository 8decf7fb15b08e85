-- Reports: distinct callers over long ranges, and cheaper roll-up triggers.
--
-- 1. Unique callers are not additive across days, so V5 left them raw: over
--    12 months of a large tenant that is a hash of a million caller ids
--    (~0.4 s of one core, the slowest part of the summary). Here every
--    caller of a rolled-up day is kept once per tenant with the sorted list
--    of the UTC days it called on: the callers of a range of closed days are
--    those whose list holds a day in it, found with `width_bucket` (a binary
--    search in C) over the callers active since the range's first day
--    (the index on last_day), not over every call. Written by the day's
--    roll-up in its transaction; CDRs are never deleted, so a day once in a
--    caller's list stays true, and rolling a day up again adds nothing.
--
-- 2. V5's triggers were statement triggers with a transition table: every
--    batch of CDRs was copied into a tuplestore to be scanned for old rows.
--    Row triggers whose WHEN tests the row's age do no work at all for the
--    rows that arrive on time (all of them, but for imports and very late
--    retries): PostgreSQL only evaluates the condition.

CREATE TABLE report_callers (
    tenant_id  bigint NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    caller_id  text   NOT NULL,
    first_day  date   NOT NULL,
    last_day   date   NOT NULL,
    -- The UTC days of the caller's calls among the rolled-up days: sorted,
    -- no duplicates (width_bucket relies on it).
    days       date[] NOT NULL,
    PRIMARY KEY (tenant_id, caller_id)
);
CREATE INDEX report_callers_recent ON report_callers (tenant_id, last_day);

-- Days rolled up before this table existed have no callers in it: they are
-- rolled up again (in the background, by the next report that needs them).
-- During a rolling upgrade a node still running the previous version can
-- roll a day up without its callers (and with the funnel's former `reached`):
-- only a day whose roll-up says `with_callers` is read; others are read raw
-- and rolled up again.
DELETE FROM report_rollup_days;
ALTER TABLE report_rollup_days ADD COLUMN with_callers boolean NOT NULL DEFAULT false;

DROP TRIGGER cdrs_report_rollup_stale ON cdrs;
DROP FUNCTION report_rollup_stale_cdrs();
DROP TRIGGER call_steps_report_rollup_stale ON call_steps;
DROP FUNCTION report_rollup_stale_steps();

-- A CDR that arrives for a day already rolled up makes that day raw again
-- until it is rolled up anew. Only a row more than 24 hours old can touch a
-- closed day (23 here: the servers' clocks, which close days, and the
-- database's may differ a little).
--
-- A roll-up of the day that is running meanwhile could miss the row (its
-- statements do not see it before it commits) and its report_rollup_days
-- row is not yet there to delete: the roll-up (storage::reports::
-- roll_up_day) holds an exclusive advisory lock on (tenant, day) and these
-- triggers a shared one, so that each waits for the other to commit. Shared,
-- so that CDR writers taking the locks of several days in any order never
-- wait for each other.
CREATE FUNCTION report_rollup_lock(tenant_id bigint, day date, exclusive boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    -- The one place the key of a (tenant, day) is made.
    tenant_key int := (tenant_id % 2147483647)::int;
    day_key int := day - date '2000-01-01';
BEGIN
    IF exclusive THEN
        PERFORM pg_advisory_xact_lock(tenant_key, day_key);
    ELSE
        PERFORM pg_advisory_xact_lock_shared(tenant_key, day_key);
    END IF;
END;
$$;

CREATE FUNCTION report_rollup_stale_cdr() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM report_rollup_lock(NEW.tenant_id, (NEW.started_at AT TIME ZONE 'UTC')::date);
    DELETE FROM report_rollup_days
    WHERE tenant_id = NEW.tenant_id AND day = (NEW.started_at AT TIME ZONE 'UTC')::date;
    RETURN NULL;
END;
$$;
CREATE TRIGGER cdrs_report_rollup_stale AFTER INSERT ON cdrs
    FOR EACH ROW WHEN (NEW.started_at < now() - interval '23 hours')
    EXECUTE FUNCTION report_rollup_stale_cdr();

-- The funnel counts a step for a call started at most 24 hours before it
-- and at most 1 hour after it (clocks differ).
CREATE FUNCTION report_rollup_stale_step() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM report_rollup_lock(NEW.tenant_id, day::date)
    FROM generate_series(((NEW.at - interval '24 hours') AT TIME ZONE 'UTC')::date,
                         ((NEW.at + interval '1 hour') AT TIME ZONE 'UTC')::date,
                         interval '1 day') AS day;
    DELETE FROM report_rollup_days
    WHERE tenant_id = NEW.tenant_id
      AND day BETWEEN ((NEW.at - interval '24 hours') AT TIME ZONE 'UTC')::date
                  AND ((NEW.at + interval '1 hour') AT TIME ZONE 'UTC')::date;
    RETURN NULL;
END;
$$;
CREATE TRIGGER call_steps_report_rollup_stale AFTER INSERT ON call_steps
    FOR EACH ROW WHEN (NEW.at < now() - interval '22 hours')
    EXECUTE FUNCTION report_rollup_stale_step();
