-- pgbench script for bench/reports: one batch of 512 new CDRs per
-- transaction through the statement ivrhub's CDR writer runs
-- (storage::cdrs::insert_cdrs, copied here: claims, routing by DID, tenant
-- rows and orphans; FRESH_DAYS written as 29), spread over the bench tenants' DIDs.
\set b random(1, 2000000000)
WITH input AS (
    SELECT * FROM jsonb_to_recordset((
        SELECT jsonb_agg(jsonb_build_object(
                   'call_id', 'ingest-' || :client_id || '-' || :b || '-' || g,
                   'did', '07' || lpad((1 + g % 100)::text, 3, '0') || '00000',
                   'caller_id', '0541234567', 'target', '0501234567',
                   'call_time', now() - interval '20 seconds', 'call_start', now() - interval '32 seconds',
                   'duration_secs', 65, 'dial_secs', 12, 'status', 'ANSWER', 'cause', 16,
                   'raw', jsonb_build_object('DID', '07' || lpad((1 + g % 100)::text, 3, '0') || '00000',
                                             'CALLER_ID', '0541234567',
                                             'IVR_UNIQUE_ID', 'ingest-' || :client_id || '-' || :b || '-' || g,
                                             'TARGET', '0501234567', 'CALL_TIME_EPOCH', 1764000012,
                                             'CALL_START_EPOCH', 1764000000, 'CALL_DURATION', 65,
                                             'CALL_DAILTIME', 12, 'CALL_STATUS', 'ANSWER')))
        FROM generate_series(1, 512) g)) AS t(
            call_id text, did text, caller_id text, target text,
            call_time timestamptz, call_start timestamptz,
            duration_secs bigint, dial_secs bigint, status text, cause smallint, raw jsonb)
), routed AS (
    SELECT DISTINCT ON (i.call_id) i.*, d.tenant_id,
           coalesce(i.call_start, i.call_time, now()) AS started_at
    FROM input i LEFT JOIN dids d ON d.did = i.did
    ORDER BY i.call_id
), claimed AS (
    INSERT INTO cdr_claims (call_id, tenant_id)
    SELECT call_id, tenant_id FROM routed ORDER BY call_id
    ON CONFLICT (call_id) DO NOTHING
    RETURNING call_id
), owned AS (
    INSERT INTO cdrs (tenant_id, call_id, did, caller_id, target, call_time, call_start,
                      duration_secs, dial_secs, status, cause, raw, started_at)
    SELECT r.tenant_id, r.call_id, r.did, r.caller_id, r.target, r.call_time, r.call_start,
           r.duration_secs, r.dial_secs, r.status, r.cause, r.raw, r.started_at
    FROM routed r JOIN claimed c USING (call_id)
    WHERE r.tenant_id IS NOT NULL AND r.started_at >= now() - make_interval(days => 29)
    ORDER BY r.tenant_id, r.call_id
), owned_late AS (
    INSERT INTO cdrs (tenant_id, call_id, did, caller_id, target, call_time, call_start,
                      duration_secs, dial_secs, status, cause, raw, started_at)
    SELECT r.tenant_id, r.call_id, r.did, r.caller_id, r.target, r.call_time, r.call_start,
           r.duration_secs, r.dial_secs, r.status, r.cause, r.raw, r.started_at
    FROM routed r JOIN claimed c USING (call_id)
    WHERE r.tenant_id IS NOT NULL AND r.started_at < now() - make_interval(days => 29)
    ORDER BY r.tenant_id, r.call_id
    ON CONFLICT DO NOTHING
)
INSERT INTO orphan_cdrs (call_id, did, caller_id, target, call_time, call_start,
                         duration_secs, dial_secs, status, cause, raw, started_at)
SELECT r.call_id, r.did, r.caller_id, r.target, r.call_time, r.call_start,
       r.duration_secs, r.dial_secs, r.status, r.cause, r.raw, r.started_at
FROM routed r JOIN claimed c USING (call_id)
WHERE r.tenant_id IS NULL
ORDER BY r.call_id
ON CONFLICT DO NOTHING;
