-- A CDR is claimed once, platform-wide, by its call id: the first report of a
-- call decides where it is kept (the tenant owning the DID then, or
-- orphan_cdrs). A retry arriving after the DID moved to another tenant, was
-- assigned, or was released is then absorbed instead of making a second row
-- elsewhere (and showing one tenant's call to another). Platform-level, like
-- the DID directory it mirrors.
CREATE TABLE cdr_claims (
    call_id     text        PRIMARY KEY,
    tenant_id   bigint      REFERENCES tenants (tenant_id),
    claimed_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO cdr_claims (call_id, tenant_id)
    SELECT call_id, min(tenant_id) FROM cdrs GROUP BY call_id
    ON CONFLICT DO NOTHING;
INSERT INTO cdr_claims (call_id, tenant_id)
    SELECT call_id, NULL FROM orphan_cdrs
    ON CONFLICT DO NOTHING;
