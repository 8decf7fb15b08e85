-- Issue 12: CALL_STATUS -> Q.850 cause, re-checked against what Asterisk
-- emits (cdr::cause_for_status says why, per status):
-- * CONGESTION is Asterisk's AST_CAUSE_CONGESTION, defined as
--   AST_CAUSE_NORMAL_CIRCUIT_CONGESTION: 34 ("no circuit available"), not 42;
-- * INVALIDARGS is an error in the Dial command's arguments, not a cause the
--   network gave: no cause (it was stored as 28, "address incomplete").
UPDATE cdrs SET cause = 34 WHERE status = 'CONGESTION' AND cause IS DISTINCT FROM 34;
UPDATE cdrs SET cause = NULL WHERE status = 'INVALIDARGS' AND cause IS NOT NULL;

-- The days rolled up with the old causes are rolled up again: forgetting
-- them (their figures go with them, by cascade) makes the reports read them
-- raw and roll them again, as for any day never rolled.
DELETE FROM report_rollup_days d
WHERE EXISTS (
    SELECT 1 FROM report_cdr_hourly h
    WHERE h.tenant_id = d.tenant_id AND h.day = d.day
      AND h.status IN ('CONGESTION', 'INVALIDARGS')
);
