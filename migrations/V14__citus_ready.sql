-- Issue 13 (Citus): what the schema needs so that it can also run
-- distributed on Citus (src/citus.rs), valid and unchanged in meaning on a
-- single PostgreSQL.
--
-- Flow changes were announced by row triggers (notify_flow_changed of V1)
-- on `tenants`, `dids` and `flow_versions`. On Citus a trigger on a
-- distributed table runs on the worker holding the shard, so its
-- pg_notify never reaches the nodes listening on the coordinator, and
-- Citus refuses triggers on distributed and reference tables without an
-- "unsafe" setting. The statements that change those rows now announce
-- the change themselves (storage::notify_flow_changed), in the same
-- transaction, so that a notification is still delivered exactly when the
-- change commits.
DROP TRIGGER IF EXISTS tenants_changed ON tenants;
DROP TRIGGER IF EXISTS dids_changed ON dids;
DROP TRIGGER IF EXISTS flow_versions_changed ON flow_versions;
DROP FUNCTION IF EXISTS notify_flow_changed();

-- The row triggers that make a rolled-up report day raw again when a late
-- CDR or call step arrives (V6) take an advisory lock and delete from
-- report_rollup_days: on Citus they would run on a worker, taking the lock
-- there instead of on the coordinator where the roll-up (storage::reports::
-- roll_up_day) takes its exclusive one. The writers now do the same in
-- their own transaction, on the node the application talks to, for the
-- batches that hold a late row (storage::reports::mark_days_stale).
DROP TRIGGER IF EXISTS cdrs_report_rollup_stale ON cdrs;
DROP FUNCTION IF EXISTS report_rollup_stale_cdr();
DROP TRIGGER IF EXISTS call_steps_report_rollup_stale ON call_steps;
DROP FUNCTION IF EXISTS report_rollup_stale_step();
