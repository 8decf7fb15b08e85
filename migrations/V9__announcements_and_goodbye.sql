-- Issue 10: flows a tenant can write.
--
-- Announcement nodes: play a recording, then go on to the next node.
ALTER TABLE flow_nodes DROP CONSTRAINT flow_nodes_kind_check;
ALTER TABLE flow_nodes ADD CONSTRAINT flow_nodes_kind_check CHECK (
    kind IN ('menu', 'announcement', 'say_digits', 'call', 'hangup', 'vo', 'silent_record', 'rules')
);

-- The draft's goodbye: the recording (one name, or one per language, as a
-- node's prompt) played by the hang-ups the flow did not design. Versions
-- keep it in their content (`goodbye`); NULL: none.
ALTER TABLE flow_drafts ADD COLUMN goodbye jsonb;
