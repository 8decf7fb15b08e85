-- pgbench script for bench/reports: one batch of 2000 call steps per
-- transaction through the statement ivrhub's step log runs
-- (storage::steps::insert_steps, copied here), spread over the bench
-- tenants.
\set b random(1, 2000000000)
INSERT INTO call_steps (tenant_id, call_id, at, did, caller_id, menu, dtmf, from_node, node_key, outcome, action)
SELECT s.tenant_id, s.call_id, s.at, s.did, s.caller_id, s.menu, s.dtmf, s.from_node, s.node_key, s.outcome, s.action
FROM jsonb_array_elements((
         SELECT jsonb_agg(jsonb_build_object(
                    'tenant_id', 1 + g % 100, 'call_id', 'ingest-' || :client_id || '-' || :b || '-' || g / 3,
                    'at', now(), 'did', '0700100000', 'caller_id', '0541234567', 'menu', 'main',
                    'dtmf', '1', 'from_node', 'main', 'node_key', 'sales', 'outcome', 'matched',
                    'action', 'CALL'))
         FROM generate_series(1, 2000) g)) WITH ORDINALITY AS e(step, position),
     jsonb_to_record(e.step) AS s(
         tenant_id bigint, call_id text, at timestamptz, did text, caller_id text,
         menu text, dtmf text, from_node text, node_key text, outcome text, action text)
WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.tenant_id = s.tenant_id)
ORDER BY e.position;
