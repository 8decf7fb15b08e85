-- Reporting: when a call happened, and where in the menu its digits were pressed.

-- The instant a CDR counts at in reports: the call flow's start as Voicenter
-- reported it, else the call time, else when we received the report.
ALTER TABLE cdrs ADD COLUMN started_at timestamptz
    GENERATED ALWAYS AS (coalesce(call_start, call_time, received_at)) STORED;
ALTER TABLE orphan_cdrs ADD COLUMN started_at timestamptz
    GENERATED ALWAYS AS (coalesce(call_start, call_time, received_at)) STORED;

-- Every report reads a tenant's time range: this index answers them by an
-- index-only scan (the INCLUDE columns are what the reports aggregate).
DROP INDEX cdrs_tenant_time;
CREATE INDEX cdrs_tenant_started ON cdrs (tenant_id, started_at)
    INCLUDE (status, duration_secs, dial_secs, cause, caller_id, did, target);
CREATE INDEX orphan_cdrs_started ON orphan_cdrs (started_at);

-- The node the request's MENU named: the menu the caller pressed digits in.
ALTER TABLE call_steps ADD COLUMN from_node text;
