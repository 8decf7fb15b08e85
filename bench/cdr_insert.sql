-- pgbench script for bench/webhook: one CDR per transaction, the row ivrhub
-- writes for a HANGUP_CALL (same table, same columns, a raw payload of the
-- same size), with a unique call_id, autocommit: one commit per row.
-- pgbench -D tenant=<the demo tenant's id>
\set n random(1, 9000000000000000000)
INSERT INTO cdrs (tenant_id, call_id, did, caller_id, target, call_time, call_start,
                  duration_secs, dial_secs, status, cause, raw, started_at)
VALUES (:tenant, 'pgbench-' || :client_id || '-' || :n, '0730000000', '0541234567', '0501234567',
        now() - interval '77 seconds', now() - interval '65 seconds', 65, 12, 'ANSWER', 16,
        jsonb_build_object('DID', '0730000000', 'CALLER_ID', '0541234567',
                           'IVR_UNIQUE_ID', 'pgbench-' || :client_id || '-' || :n,
                           'TARGET', '0501234567', 'CALL_TIME_EPOCH', 1764000000,
                           'CALL_START_EPOCH', 1764000012, 'CALL_DURATION', 65,
                           'CALL_DAILTIME', 12, 'CALL_STATUS', 'ANSWER'),
        now() - interval '65 seconds')
ON CONFLICT (tenant_id, call_id, started_at) DO NOTHING;
