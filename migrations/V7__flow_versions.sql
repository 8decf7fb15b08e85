-- Flow versions (DESIGN §7). The flow tables of V1 (flow_nodes, schedules…,
-- and the entry node and language of each row of `dids`) are now the
-- tenant's *draft*: every edit goes there. What callers hear is the tenant's
-- latest *published version*: an immutable copy of a draft's whole content.

CREATE TABLE flow_versions (
    tenant_id      bigint      NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    version        integer     NOT NULL CHECK (version >= 1),
    -- The whole flow: {"nodes": [...], "schedules": [...], "entries": [...]},
    -- each list in key order (src/flow/content.rs).
    content        jsonb       NOT NULL,
    -- SHA-256 of the canonical JSON of `content`.
    sha256         text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    -- The version that was live when this one was made (NULL for the first).
    parent         integer,
    -- A rollback: the version whose content this one restores.
    restores       integer,
    message        text        NOT NULL DEFAULT '' CHECK (length(message) <= 1000),
    author_id      bigint,
    author_email   text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, version),
    FOREIGN KEY (tenant_id, parent) REFERENCES flow_versions (tenant_id, version),
    FOREIGN KEY (tenant_id, restores) REFERENCES flow_versions (tenant_id, version)
);

-- Each write to a tenant's draft bumps its revision; writes may name the
-- revision they were based on (If-Match) and are refused when it is stale.
-- ivrhub creates the row with the tenant. A tenant without one is from
-- before versions (or was created by a node of the version before): at
-- start, ivrhub freezes its flow into version 1, live, with the draft
-- equal to it (in Rust, since the node JSON is the Rust model's; each
-- tenant once, under its lock), before the flow cache is loaded.
CREATE TABLE flow_drafts (
    tenant_id   bigint      PRIMARY KEY REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    revision    bigint      NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Callers hear published versions only: edits of nodes and schedules no
-- longer reload the webhook's cache; a new version does (notify_flow_changed
-- of V1). Changes of `dids` still do (the directory: number → tenant).
DROP TRIGGER flow_nodes_changed ON flow_nodes;
DROP TRIGGER schedules_changed ON schedules;
DROP TRIGGER schedule_hours_changed ON schedule_hours;
DROP TRIGGER schedule_holidays_changed ON schedule_holidays;
CREATE TRIGGER flow_versions_changed AFTER INSERT ON flow_versions
    FOR EACH ROW EXECUTE FUNCTION notify_flow_changed();

-- The version each call step ran on (NULL: before versions).
ALTER TABLE call_steps ADD COLUMN flow_version integer;

-- Publishing, rolling back and discarding the draft are audited like every
-- other change (object type `flow`).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('create', 'update', 'delete', 'publish', 'rollback', 'discard'));
