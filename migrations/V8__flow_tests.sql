-- Flow tests: a tenant's named scenarios (a scripted call) with what must
-- happen; run on demand against the draft, live or a version, and by every
-- publish against the draft. Part of the tenant's configuration (audited),
-- not of the versioned flow.
CREATE TABLE flow_tests (
    tenant_id   bigint      NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    name        text        NOT NULL CHECK (name ~ '^[A-Za-z0-9_.-]{1,64}$'),
    -- The test as the API shows it (src/flow_tests.rs): scenario and expectations.
    definition  jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);
