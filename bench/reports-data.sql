-- bench/reports-data.sql: the reports benchmark's data set, generated set-based
-- in one transaction (psql -v calls=10000000 -v big=1000000 -v tenants=100
-- -v days=395 -v end="'2026-11-24 00:00+00'"). Run by bench/reports on an empty,
-- migrated database: tenants, their DIDs, the CDRs (with their claims) and the
-- call steps of each call, then the indexes (built after loading), then VACUUM
-- ANALYZE (visibility map: the reports read index-only).
--
-- Distributions (see bench/README-reports in the README):
--   * tenant 1 ("bench-001", Asia/Jerusalem) holds :big calls, the other
--     :tenants - 1 share the rest; zones: mostly Asia/Jerusalem, some
--     Europe/London, America/New_York, Asia/Kolkata (UTC+5:30);
--   * start times uniform over :days days before :end, 85 % in local business
--     hours (08:00-19:00), 15 % at any hour;
--   * statuses ANSWER 60 %, NOANSWER 15 %, BUSY 10 %, CANCEL 8 % (half of them
--     in the menu, before any dial), CONGESTION 3 %, CHANUNAVAIL 2 %,
--     INVALIDARGS 1 %, DONTCALL 0.5 %, TORTURE 0.3 %, and 0.2 % of a status the
--     spec does not list ("FAILED", no cause);
--   * talk time of answered calls log-normal (median ~67 s, capped at 2 h);
--     dial time by status (answered 2-20 s skewed low, no answer 20-45 s, busy
--     0-3 s, ...), 0.5 % without a dial time;
--   * 50 DIDs for the big tenant (5 for the others), skewed; a few hundred
--     targets (300 for the big tenant, 30 for the others), skewed; callers
--     drawn from a pool (400 000 for the big tenant) with a cubic skew, so
--     that some call often;
--   * call steps: each call follows one of 8 paths through the same menu tree
--     (main -> sales / support -> tech, billing; timeouts, invalid keys,
--     voicemail, give-ups), 1 to 4 steps, 8 s apart;
--   * rows written in time order (all tenants interleaved), as they arrive.
\set ON_ERROR_STOP 1
\timing on
SET synchronous_commit = off;
SET maintenance_work_mem = '1GB';
SET max_parallel_maintenance_workers = 2;
SET work_mem = '256MB';
-- No triggers (the flow-change NOTIFY, roll-up bookkeeping) and no FK checks
-- while loading: the data is consistent by construction.
SET session_replication_role = replica;
SELECT setseed(0.20261124);

BEGIN;
-- Emptied in this transaction: with wal_level=minimal the loads skip the WAL.
TRUNCATE cdrs, orphan_cdrs, cdr_claims, call_steps, dids, flow_nodes, node_links,
         node_schedule_links, schedules, recordings, users, refresh_tokens, audit_log,
         tenants RESTART IDENTITY CASCADE;

-- Every index and primary key of the loaded tables, kept to be rebuilt after.
CREATE TEMP TABLE saved_indexes AS
    SELECT c.relname AS tbl, i.relname AS idx, pg_get_indexdef(i.oid) AS def,
           con.conname, pg_get_constraintdef(con.oid) AS condef
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class c ON c.oid = x.indrelid
    LEFT JOIN pg_constraint con ON con.conindid = i.oid AND con.contype IN ('p', 'u')
    WHERE c.relname IN ('cdrs', 'cdr_claims', 'call_steps')
      AND c.relnamespace = 'public'::regnamespace;
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT * FROM saved_indexes LOOP
        IF r.conname IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', r.tbl, r.conname);
        ELSE
            EXECUTE format('DROP INDEX %I', r.idx);
        END IF;
    END LOOP;
END $$;

CREATE TEMP TABLE bt AS
    SELECT n,
           CASE WHEN n = 1 THEN :big ELSE (:calls - :big) / (:tenants - 1)
                + CASE WHEN n = 2 THEN (:calls - :big) % (:tenants - 1) ELSE 0 END END AS calls,
           CASE WHEN n = 1 THEN 50 ELSE 5 END AS dids,
           CASE WHEN n = 1 THEN 300 ELSE 30 END AS targets,
           CASE WHEN n = 1 THEN 400000 ELSE 40000 END AS callers,
           CASE WHEN n = 1 THEN 'Asia/Jerusalem'
                WHEN n % 10 = 3 THEN 'Europe/London'
                WHEN n % 10 = 7 THEN 'America/New_York'
                WHEN n % 25 = 11 THEN 'Asia/Kolkata'
                ELSE 'Asia/Jerusalem' END AS tz
    FROM generate_series(1, :tenants) n;
ALTER TABLE bt ADD COLUMN last_call bigint, ADD COLUMN tenant_id bigint;
UPDATE bt SET last_call = s.running FROM (
    SELECT n, sum(calls) OVER (ORDER BY n) AS running FROM bt) s WHERE s.n = bt.n;

INSERT INTO tenants (name, time_zone)
    SELECT 'bench-' || lpad(n::text, 3, '0'), tz FROM bt ORDER BY n;
UPDATE bt SET tenant_id = t.tenant_id FROM tenants t WHERE t.name = 'bench-' || lpad(bt.n::text, 3, '0');

INSERT INTO dids (did, tenant_id, entry_node)
    SELECT '07' || lpad(bt.n::text, 3, '0') || lpad(k::text, 5, '0'), bt.tenant_id, NULL
    FROM bt, generate_series(0, bt.dids - 1) k;

-- The paths calls take through the menu tree. kind 'dial': ends in a CALL;
-- 'menu': the caller hung up (or we did) before any dial.
CREATE TEMP TABLE bp (path int, kind text, seq int, menu text, dtmf text, from_node text,
                      node_key text, outcome text, action text);
INSERT INTO bp VALUES
    (1, 'dial', 1, '-1', '', NULL, 'main', 'entered', 'MENU'),
    (1, 'dial', 2, 'main', '1', 'main', 'sales', 'matched', 'CALL'),
    (2, 'dial', 1, '-1', '', NULL, 'main', 'entered', 'MENU'),
    (2, 'dial', 2, 'main', '2', 'main', 'support', 'matched', 'MENU'),
    (2, 'dial', 3, 'support', '1', 'support', 'tech', 'matched', 'CALL'),
    (3, 'dial', 1, '-1', '', NULL, 'main', 'entered', 'MENU'),
    (3, 'dial', 2, 'main', '', 'main', 'main', 'timeout_retry', 'MENU'),
    (3, 'dial', 3, 'main~r1', '1', 'main', 'sales', 'matched', 'CALL'),
    (4, 'dial', 1, '-1', '', NULL, 'main', 'entered', 'MENU'),
    (4, 'dial', 2, 'main', '2', 'main', 'support', 'matched', 'MENU'),
    (4, 'dial', 3, 'support', '7', 'support', 'support', 'invalid_retry', 'MENU'),
    (4, 'dial', 4, 'support~r1', '2', 'support', 'billing', 'matched', 'CALL'),
    (5, 'menu', 1, '-1', '', NULL, 'main', 'entered', 'MENU'),
    (6, 'menu', 1, '-1', '', NULL, 'main', 'entered', 'MENU'),
    (6, 'menu', 2, 'main', '', 'main', 'main', 'timeout_retry', 'MENU'),
    (6, 'menu', 3, 'main~r1', '', 'main', 'main', 'timeout_retry', 'MENU'),
    (6, 'menu', 4, 'main~r2', '', 'main', 'goodbye', 'timeout_exhausted', 'HANGUP'),
    (7, 'menu', 1, '-1', '', NULL, 'main', 'entered', 'MENU'),
    (7, 'menu', 2, 'main', '2', 'main', 'support', 'matched', 'MENU'),
    (8, 'menu', 1, '-1', '', NULL, 'main', 'entered', 'MENU'),
    (8, 'menu', 2, 'main', '9', 'main', 'voicemail', 'matched', 'SILENTRECORD');

-- Every call, with what its CDR and its steps need.
CREATE UNLOGGED TABLE bench_calls AS
SELECT i, tenant_id, call_id, did, caller_id,
       CASE WHEN in_menu THEN '' ELSE target END AS target,
       started, status, cause, duration_secs, dial_secs,
       CASE WHEN in_menu THEN 5 + floor(r_path * 4)::int
            ELSE 1 + floor(r_path * r_path * 4)::int END AS path
FROM (
    SELECT i, tenant_id, md5(i::text) AS call_id, did, caller_id, target, started, status,
           CASE status WHEN 'ANSWER' THEN 16 WHEN 'NOANSWER' THEN 19 WHEN 'BUSY' THEN 17
                WHEN 'CANCEL' THEN 16 WHEN 'CONGESTION' THEN 34 WHEN 'CHANUNAVAIL' THEN 20
                -- as cdr::cause_for_status (INVALIDARGS: none)
                WHEN 'DONTCALL' THEN 21 WHEN 'TORTURE' THEN 21 END AS cause,
           CASE WHEN status = 'ANSWER'
                THEN least(7200, round(exp(4.2 + sqrt(-2 * ln(r_d1)) * cos(2 * pi() * r_d2))))::bigint
                ELSE 0 END AS duration_secs,
           CASE WHEN r_nodial < 0.005 THEN NULL
                WHEN status = 'ANSWER' THEN 2 + floor(18 * r_dial * r_dial)
                WHEN status = 'NOANSWER' THEN 20 + floor(25 * r_dial)
                WHEN status = 'BUSY' THEN floor(4 * r_dial)
                WHEN status = 'CANCEL' THEN floor(30 * r_dial)
                ELSE floor(3 * r_dial) END::bigint AS dial_secs,
           status = 'CANCEL' AND r_menu < 0.5 AS in_menu,
           r_path
    FROM (
        SELECT i, bt.tenant_id,
               '07' || lpad(bt.n::text, 3, '0') || lpad(floor(bt.dids * power(random(), 1.5))::text, 5, '0') AS did,
               '05' || lpad(floor(bt.callers * power(random(), 3))::text, 8, '0') AS caller_id,
               '05' || lpad(bt.n::text, 3, '0') || lpad(floor(bt.targets * power(random(), 2))::text, 5, '0') AS target,
               least(timestamptz :end - interval '1 second',
                   ((timestamptz :end AT TIME ZONE bt.tz)::date - :days + floor(random() * :days)::int
                    + CASE WHEN random() < 0.85 THEN interval '8 hours' + random() * interval '11 hours'
                           ELSE random() * interval '24 hours' END) AT TIME ZONE bt.tz) AS started,
               random() AS r_status,
               1 - random() AS r_d1, random() AS r_d2, random() AS r_dial, random() AS r_nodial,
               random() AS r_menu, random() AS r_path
        FROM bt, LATERAL generate_series(bt.last_call - bt.calls + 1, bt.last_call) i
        OFFSET 0
    ) a0
    CROSS JOIN LATERAL (
        SELECT CASE WHEN r_status < 0.60 THEN 'ANSWER' WHEN r_status < 0.75 THEN 'NOANSWER'
                    WHEN r_status < 0.85 THEN 'BUSY' WHEN r_status < 0.93 THEN 'CANCEL'
                    WHEN r_status < 0.96 THEN 'CONGESTION' WHEN r_status < 0.98 THEN 'CHANUNAVAIL'
                    WHEN r_status < 0.99 THEN 'INVALIDARGS' WHEN r_status < 0.995 THEN 'DONTCALL'
                    WHEN r_status < 0.998 THEN 'TORTURE' ELSE 'FAILED' END AS status) st
    OFFSET 0
) b
-- In time order, as a live system writes them (what the heap order of CDRs
-- and steps, and so the reports' page reads, look like).
ORDER BY started;

INSERT INTO cdrs (tenant_id, call_id, did, caller_id, target, call_time, call_start,
                  duration_secs, dial_secs, status, cause, raw, received_at, started_at)
SELECT tenant_id, call_id, did, caller_id, target,
       started + make_interval(secs => coalesce(dial_secs, 0)), started,
       duration_secs, dial_secs, status, cause,
       jsonb_build_object('DID', did, 'CALLER_ID', caller_id, 'IVR_UNIQUE_ID', call_id,
                          'TARGET', target,
                          'CALL_TIME_EPOCH', extract(epoch FROM started)::bigint + coalesce(dial_secs, 0),
                          'CALL_START_EPOCH', extract(epoch FROM started)::bigint,
                          'CALL_DURATION', duration_secs, 'CALL_DAILTIME', dial_secs,
                          'CALL_STATUS', status),
       started + make_interval(secs => coalesce(dial_secs, 0) + duration_secs + 2), started
FROM bench_calls;

INSERT INTO cdr_claims (call_id, tenant_id, claimed_at)
SELECT call_id, tenant_id, started + make_interval(secs => coalesce(dial_secs, 0) + duration_secs + 2)
FROM bench_calls;

INSERT INTO call_steps (tenant_id, call_id, at, did, caller_id, menu, dtmf, from_node,
                        node_key, outcome, action)
SELECT c.tenant_id, c.call_id, c.started + make_interval(secs => 8 * (p.seq - 1)), c.did, c.caller_id,
       p.menu, p.dtmf, p.from_node, p.node_key, p.outcome, p.action
FROM bench_calls c JOIN bp p ON p.path = c.path;

COMMIT;

-- The indexes, as the migrations define them, built on the loaded tables.
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT * FROM saved_indexes ORDER BY tbl, idx LOOP
        IF r.conname IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I %s', r.tbl, r.conname, r.condef);
        ELSE
            -- A partitioned table's index reads `ON ONLY` (the parent alone):
            -- built on every partition instead.
            EXECUTE replace(r.def, ' ON ONLY ', ' ON ');
        END IF;
    END LOOP;
END $$;
DROP TABLE bench_calls;
SET session_replication_role = origin;
VACUUM (ANALYZE) cdrs, cdr_claims, call_steps, tenants, dids;
