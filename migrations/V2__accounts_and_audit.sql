-- Accounts, refresh tokens and the audit log of configuration changes.
--
-- `users` is platform-level like `dids`: a login names an email before any
-- tenant is known, so emails are unique across the platform; platform
-- admins belong to no tenant (tenant_id NULL), everyone else to exactly one.

CREATE TABLE users (
    user_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      bigint REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    email          text        NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    name           text        NOT NULL DEFAULT '',
    role           text        NOT NULL CHECK (role IN ('platform_admin', 'tenant_admin', 'editor', 'viewer')),
    status         text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    password_hash  text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (email),
    CHECK ((role = 'platform_admin') = (tenant_id IS NULL))
);
CREATE INDEX users_tenant ON users (tenant_id, user_id);

-- Refresh tokens are stored as SHA-256 hashes. Each login starts a family;
-- a refresh replaces the token by the next of its family; presenting a
-- token already replaced means it was stolen: the whole family is revoked.
CREATE TABLE refresh_tokens (
    token_hash   bytea       PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    family       bigint      NOT NULL,
    expires_at   timestamptz NOT NULL,
    replaced_at  timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE refresh_token_families;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- Who changed what, when, with the object before and after. tenant_id is
-- the tenant the change concerns (NULL: platform-level, e.g. a platform admin).
CREATE TABLE audit_log (
    audit_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    bigint,
    at           timestamptz NOT NULL DEFAULT now(),
    actor_id     bigint,
    actor_email  text        NOT NULL,
    action       text        NOT NULL CHECK (action IN ('create', 'update', 'delete')),
    object_type  text        NOT NULL,
    object_id    text        NOT NULL,
    before       jsonb,
    after        jsonb
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, audit_id);

-- A DID can be given to a tenant before its flow exists: calls to it get
-- the safe answer until the tenant sets the entry node.
ALTER TABLE dids ALTER COLUMN entry_node DROP NOT NULL;
