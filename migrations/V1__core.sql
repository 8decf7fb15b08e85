-- ivrhub core schema.
--
-- Tenancy: every tenant-owned table has tenant_id first in its primary key, in
-- every foreign key and in every index, so each query is scoped by tenant and
-- the schema can later be distributed by tenant (Citus). Two tables are
-- platform-level by nature: `dids` (the number directory, globally unique)
-- and `orphan_cdrs` (end-of-call reports for numbers no tenant owns).

CREATE TABLE tenants (
    tenant_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    time_zone   text        NOT NULL DEFAULT 'Asia/Jerusalem',
    language    text        NOT NULL DEFAULT 'he' CHECK (language IN ('he', 'en')),
    status      text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The definition of a node (its kind-specific fields, routes and rules) is
-- JSON validated by the Rust model (src/flow/model.rs); every reference it
-- makes is projected into node_links / node_schedule_links below, whose
-- foreign keys let the database itself refuse a dangling reference.
CREATE TABLE flow_nodes (
    tenant_id   bigint      NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    key         text        NOT NULL CHECK (key ~ '^[A-Za-z0-9_.-]{1,64}$'),
    kind        text        NOT NULL CHECK (kind IN ('menu', 'say_digits', 'call', 'hangup', 'vo', 'silent_record', 'rules')),
    definition  jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

-- Every reference a node makes to another (routes, timeout/invalid/exhausted
-- targets, call failover, routing-rule targets): one row per distinct target.
CREATE TABLE node_links (
    tenant_id   bigint NOT NULL,
    from_key    text   NOT NULL,
    to_key      text   NOT NULL,
    PRIMARY KEY (tenant_id, from_key, to_key),
    FOREIGN KEY (tenant_id, from_key) REFERENCES flow_nodes (tenant_id, key) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, to_key) REFERENCES flow_nodes (tenant_id, key) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX node_links_to ON node_links (tenant_id, to_key);

CREATE TABLE schedules (
    tenant_id   bigint      NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    key         text        NOT NULL CHECK (key ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name        text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE schedule_hours (
    tenant_id     bigint   NOT NULL,
    schedule_key  text     NOT NULL,
    position      int      NOT NULL,
    -- ISO weekday: 1 = Monday ... 7 = Sunday
    weekday       smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    opens         time     NOT NULL,
    closes        time     NOT NULL,
    PRIMARY KEY (tenant_id, schedule_key, position),
    FOREIGN KEY (tenant_id, schedule_key) REFERENCES schedules (tenant_id, key) ON DELETE CASCADE
);

CREATE TABLE schedule_holidays (
    tenant_id     bigint NOT NULL,
    schedule_key  text   NOT NULL,
    day           date   NOT NULL,
    name          text   NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, schedule_key, day),
    FOREIGN KEY (tenant_id, schedule_key) REFERENCES schedules (tenant_id, key) ON DELETE CASCADE
);

CREATE TABLE node_schedule_links (
    tenant_id     bigint NOT NULL,
    from_key      text   NOT NULL,
    schedule_key  text   NOT NULL,
    PRIMARY KEY (tenant_id, from_key, schedule_key),
    FOREIGN KEY (tenant_id, from_key) REFERENCES flow_nodes (tenant_id, key) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, schedule_key) REFERENCES schedules (tenant_id, key) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX node_schedule_links_to ON node_schedule_links (tenant_id, schedule_key);

-- The per-tenant catalogue of recordings that REC fields name.
CREATE TABLE recordings (
    tenant_id    bigint      NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description  text        NOT NULL DEFAULT '',
    language     text        CHECK (language IN ('he', 'en')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);

-- The DID directory: platform-level (a number belongs to at most one tenant).
CREATE TABLE dids (
    did         text        PRIMARY KEY CHECK (did ~ '^[0-9+*#]{1,32}$'),
    tenant_id   bigint      NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    entry_node  text        NOT NULL,
    language    text        CHECK (language IN ('he', 'en')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, entry_node) REFERENCES flow_nodes (tenant_id, key)
);
CREATE INDEX dids_tenant ON dids (tenant_id, did);

-- Reference data: the spec's table of ISUP/Q.850 causes and SIP equivalents.
CREATE TABLE hangup_causes (
    cause        smallint NOT NULL,
    description  text     NOT NULL,
    sip          text     NOT NULL,
    PRIMARY KEY (cause, sip)
);
INSERT INTO hangup_causes (cause, description, sip) VALUES
    (1,   'Unallocated (unassigned) number',      '404 Not Found'),
    (2,   'no route to network',                  '404 Not found'),
    (3,   'no route to destination',              '404 Not found'),
    (16,  'normal call clearing',                 'BYE or CANCEL'),
    (17,  'user busy',                            '486 Busy here'),
    (18,  'no user responding',                   '408 Request Timeout'),
    (19,  'no answer from the user',              '480 Temporarily unavailable'),
    (20,  'subscriber absent',                    '480 Temporarily unavailable'),
    (21,  'call rejected',                        '403 Forbidden'),
    (22,  'number changed (w/o diagnostic)',      '410 Gone'),
    (22,  'number changed (w/ diagnostic)',       '301 Moved Permanently'),
    (23,  'redirection to new destination',       '410 Gone'),
    (26,  'non-selected user clearing',           '404 Not Found'),
    (27,  'destination out of order',             '502 Bad Gateway'),
    (28,  'address incomplete',                   '484 Address incomplete'),
    (29,  'facility rejected',                    '501 Not implemented'),
    (31,  'normal unspecified',                   '480 Temporarily unavailable'),
    (34,  'no circuit available',                 '503 Service unavailable'),
    (38,  'network out of order',                 '503 Service unavailable'),
    (41,  'temporary failure',                    '503 Service unavailable'),
    (42,  'switching equipment congestion',       '503 Service unavailable'),
    (47,  'resource unavailable',                 '503 Service unavailable'),
    (55,  'incoming calls barred within CUG',     '403 Forbidden'),
    (57,  'bearer capability not authorized',     '403 Forbidden'),
    (58,  'bearer capability not presently',      '503 Service unavailable'),
    (65,  'bearer capability not implemented',    '488 Not Acceptable Here'),
    (70,  'only restricted digital avail',        '488 Not Acceptable Here'),
    (79,  'service or option not implemented',    '501 Not implemented'),
    (87,  'user not member of CUG',               '403 Forbidden'),
    (88,  'incompatible destination',             '503 Service unavailable'),
    (102, 'recovery of timer expiry',             '504 Gateway timeout'),
    (111, 'protocol error',                       '500 Server internal error'),
    (127, 'interworking unspecified',             '500 Server internal error');

-- End-of-call reports. One row per (tenant, call): Voicenter's retries of the
-- same report are absorbed by the primary key.
CREATE TABLE cdrs (
    tenant_id         bigint      NOT NULL REFERENCES tenants (tenant_id),
    call_id           text        NOT NULL,
    did               text        NOT NULL,
    caller_id         text        NOT NULL,
    target            text        NOT NULL,
    call_time         timestamptz,
    call_start        timestamptz,
    duration_secs     bigint,
    dial_secs         bigint,
    status            text        NOT NULL,
    cause             smallint,
    raw               jsonb       NOT NULL,
    received_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, call_id)
);
CREATE INDEX cdrs_tenant_time ON cdrs (tenant_id, call_start);

CREATE TABLE orphan_cdrs (
    call_id           text        PRIMARY KEY,
    did               text        NOT NULL,
    caller_id         text        NOT NULL,
    target            text        NOT NULL,
    call_time         timestamptz,
    call_start        timestamptz,
    duration_secs     bigint,
    dial_secs         bigint,
    status            text        NOT NULL,
    cause             smallint,
    raw               jsonb       NOT NULL,
    received_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orphan_cdrs_did ON orphan_cdrs (did, received_at);

-- Every answered step of every call, written in batches in the background;
-- feeds the per-menu funnel report.
CREATE TABLE call_steps (
    tenant_id   bigint      NOT NULL REFERENCES tenants (tenant_id),
    step_id     bigint      GENERATED ALWAYS AS IDENTITY,
    call_id     text        NOT NULL,
    at          timestamptz NOT NULL,
    did         text        NOT NULL,
    caller_id   text        NOT NULL,
    menu        text        NOT NULL,
    dtmf        text        NOT NULL,
    node_key    text,
    outcome     text        NOT NULL,
    action      text        NOT NULL,
    PRIMARY KEY (tenant_id, step_id)
);
CREATE INDEX call_steps_call ON call_steps (tenant_id, call_id, at);
CREATE INDEX call_steps_time ON call_steps (tenant_id, at);

-- Flow changes are announced on this channel (payload: tenant id, or '*' for
-- "reload everything"), so every node's flow cache follows at once.
CREATE FUNCTION notify_flow_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed_tenant bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed_tenant := OLD.tenant_id;
    ELSE
        changed_tenant := NEW.tenant_id;
    END IF;
    PERFORM pg_notify('ivrhub_flow_changed', changed_tenant::text);
    IF TG_OP = 'UPDATE' AND OLD.tenant_id IS DISTINCT FROM NEW.tenant_id THEN
        PERFORM pg_notify('ivrhub_flow_changed', OLD.tenant_id::text);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tenants_changed AFTER INSERT OR UPDATE OR DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION notify_flow_changed();
CREATE TRIGGER flow_nodes_changed AFTER INSERT OR UPDATE OR DELETE ON flow_nodes
    FOR EACH ROW EXECUTE FUNCTION notify_flow_changed();
CREATE TRIGGER schedules_changed AFTER INSERT OR UPDATE OR DELETE ON schedules
    FOR EACH ROW EXECUTE FUNCTION notify_flow_changed();
CREATE TRIGGER schedule_hours_changed AFTER INSERT OR UPDATE OR DELETE ON schedule_hours
    FOR EACH ROW EXECUTE FUNCTION notify_flow_changed();
CREATE TRIGGER schedule_holidays_changed AFTER INSERT OR UPDATE OR DELETE ON schedule_holidays
    FOR EACH ROW EXECUTE FUNCTION notify_flow_changed();
CREATE TRIGGER dids_changed AFTER INSERT OR UPDATE OR DELETE ON dids
    FOR EACH ROW EXECUTE FUNCTION notify_flow_changed();
