-- Issue 12: CALL_STATUS -> Q.850 cause, re-checked against what Asterisk
-- emits (cdr::cause_for_status says why, per status):
-- * CONGESTION is Asterisk's AST_CAUSE_CONGESTION, defined as
--   AST_CAUSE_NORMAL_CIRCUIT_CONGESTION: 34 ("no circuit available"), not 42;
-- * INVALIDARGS is an error in the Dial command's arguments, not a cause the
--   network gave: no cause (it was stored as 28, "address incomplete").
-- One pass over each table (no index on status: a full scan, once). A node
-- of the previous release still running after this keeps storing 42 and 28:
-- replace the nodes before this migration runs (README, Running several nodes).
UPDATE cdrs SET cause = CASE status WHEN 'CONGESTION' THEN 34 END
WHERE (status = 'CONGESTION' AND cause IS DISTINCT FROM 34)
   OR (status = 'INVALIDARGS' AND cause IS NOT NULL);
UPDATE orphan_cdrs SET cause = CASE status WHEN 'CONGESTION' THEN 34 END
WHERE (status = 'CONGESTION' AND cause IS DISTINCT FROM 34)
   OR (status = 'INVALIDARGS' AND cause IS NOT NULL);

-- Days rolled up before are rolled up again where they are now wrong:
-- forgetting them (their figures go with them, by cascade) makes the
-- reports read them raw and roll them again, as for any day never rolled.
-- * the days with the old causes;
-- * the days whose funnel was rolled up before it counted the calls the IVR
--   hung up on (`ended` / `ivr_hung_up`, issue 10): those with funnel rows.
DELETE FROM report_rollup_days d
WHERE EXISTS (
    SELECT 1 FROM report_cdr_hourly h
    WHERE h.tenant_id = d.tenant_id AND h.day = d.day
      AND h.status IN ('CONGESTION', 'INVALIDARGS')
) OR EXISTS (
    SELECT 1 FROM report_funnel_daily f
    WHERE f.tenant_id = d.tenant_id AND f.day = d.day AND f.kind = 'ended'
);
