-- Issue 12: alerts. A rule watches one figure of a tenant's calls (or, with
-- no tenant, of the platform's) over a sliding window; each evaluation
-- (one per rule per minute, by the node holding the `alerts` lease) may
-- store an event; an event is sent to the rule's webhook URLs as signed
-- deliveries, retried for more than a day, each attempt recorded.
-- The rule's definition is the JSON the API takes (alerts::rule::RuleSpec),
-- checked there; the columns besides it are the evaluator's state.

CREATE TABLE alert_rules (
    rule_id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL: a platform-wide rule (platform admins), over every tenant's calls.
    tenant_id     bigint      REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    name          text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    definition    jsonb       NOT NULL,
    enabled       boolean     NOT NULL DEFAULT true,
    state         text        NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'firing', 'resolved')),
    -- Whether the figure was past the threshold at each of the last N evaluations, oldest first.
    recent        boolean[]   NOT NULL DEFAULT '{}',
    -- The minute last evaluated: an evaluation is stored only if this did
    -- not change meanwhile, so two nodes never both evaluate a minute.
    evaluated_at  timestamptz,
    last_value    double precision,
    last_calls    bigint,
    notified_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_rules_tenant ON alert_rules (tenant_id, rule_id);

CREATE TABLE alert_events (
    event_id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint      REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    -- Events outlive their rule (its name is kept).
    rule_id         bigint      REFERENCES alert_rules (rule_id) ON DELETE SET NULL,
    rule_name       text        NOT NULL,
    metric          text        NOT NULL,
    state           text        NOT NULL CHECK (state IN ('firing', 'renotified', 'resolved')),
    at              timestamptz NOT NULL,
    value           double precision,
    threshold       double precision NOT NULL,
    clear_threshold double precision NOT NULL,
    calls           bigint      NOT NULL,
    window_secs     integer     NOT NULL,
    -- false: not sent (no URL, or the rule's notification rate was spent).
    notified        boolean     NOT NULL
);
CREATE INDEX alert_events_tenant ON alert_events (tenant_id, at DESC, event_id DESC);
CREATE INDEX alert_events_rule ON alert_events (rule_id, at DESC);

CREATE TABLE alert_deliveries (
    delivery_id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint      REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    rule_id         bigint      REFERENCES alert_rules (rule_id) ON DELETE SET NULL,
    -- NULL: a test message (POST /alerts/rules/{id}/test).
    event_id        bigint      REFERENCES alert_events (event_id) ON DELETE CASCADE,
    url             text        NOT NULL,
    -- `webhook-id`: the same on every attempt, so receivers can deduplicate.
    message_id      text        NOT NULL UNIQUE,
    body            text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX alert_deliveries_tenant ON alert_deliveries (tenant_id, delivery_id DESC);

CREATE TABLE alert_delivery_attempts (
    delivery_id bigint      NOT NULL REFERENCES alert_deliveries (delivery_id) ON DELETE CASCADE,
    attempt     integer     NOT NULL,
    at          timestamptz NOT NULL,
    -- The receiver's HTTP status; NULL when none came (timeout, refused, unsafe address).
    status_code integer,
    latency_ms  integer     NOT NULL,
    error       text,
    PRIMARY KEY (delivery_id, attempt)
);

-- Signing secrets (Standard Webhooks `whsec_…`), per tenant (NULL: the
-- platform's rules). The current one has no `expires_at`; after a rotation
-- the previous one keeps signing too until it expires.
CREATE TABLE alert_secrets (
    secret_id  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  bigint      REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    secret     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz
);
CREATE UNIQUE INDEX alert_secrets_current ON alert_secrets (coalesce(tenant_id, 0)) WHERE expires_at IS NULL;

-- Work that exactly one node of a cluster does at a time (the alert
-- evaluator): held by the node that renews it before it expires.
CREATE TABLE leases (
    name       text        PRIMARY KEY,
    holder     text        NOT NULL,
    expires_at timestamptz NOT NULL
);

-- A step answered with a safe answer says why (webhook::fallback's reasons).
ALTER TABLE call_steps ADD COLUMN fallback text;
