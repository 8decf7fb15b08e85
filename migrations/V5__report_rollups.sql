-- Reports: daily roll-ups of the menu funnel and of the CDR figures.
--
-- The funnel joins every call step of a range to its CDR and finds each
-- call's last step: over months of a large tenant that is millions of rows, too
-- slow to answer on demand; the CDR breakdowns read a million index entries.
-- So their figures are also kept per tenant and UTC day of the calls' start,
-- once a day is closed (it ended more than 24 hours ago: no call lasts longer,
-- so its steps and its CDR are in). A report reads the closed days it covers
-- from here and everything else (partial days at the ends of the range, the
-- last day or two, days not rolled up yet) from the raw tables; both come from
-- the same queries (src/storage/reports.rs).
--
-- The roll-up is written by the reports themselves (a day a report needed
-- and found missing is rolled up in the background), not by the CDR writer:
-- ingestion does no extra work beyond the two statement-level triggers below,
-- which only look at the inserted batch.

CREATE TABLE report_rollup_days (
    tenant_id  bigint      NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    day        date        NOT NULL,
    rolled_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, day)
);

-- One row per (tenant, day, CDR status, node, figure, detail): see
-- storage::reports::FunnelRow for the figures.
CREATE TABLE report_funnel_daily (
    tenant_id  bigint NOT NULL,
    day        date   NOT NULL,
    status     text   NOT NULL,
    node       text   NOT NULL,
    kind       text   NOT NULL,
    detail     text,
    count      bigint NOT NULL,
    FOREIGN KEY (tenant_id, day) REFERENCES report_rollup_days (tenant_id, day) ON DELETE CASCADE
);
CREATE INDEX report_funnel_daily_day ON report_funnel_daily (tenant_id, day);

-- The additive CDR figures of the same closed days (storage::reports::Totals):
-- per hour and status (by status, by cause, time series), per DID and status
-- (by DID), per status and dial time (summary). Hours are UTC hours, which are the clock's hours in every
-- zone a whole number of hours off UTC.
CREATE TABLE report_cdr_hourly (
    tenant_id               bigint      NOT NULL,
    day                     date        NOT NULL,
    hour                    timestamptz NOT NULL,
    status                  text        NOT NULL,
    cause                   smallint,
    calls                   bigint      NOT NULL,
    answered                bigint      NOT NULL,
    talk_secs               bigint      NOT NULL,
    answered_with_duration  bigint      NOT NULL,
    dial_secs_sum           bigint      NOT NULL,
    with_dial_time          bigint      NOT NULL,
    FOREIGN KEY (tenant_id, day) REFERENCES report_rollup_days (tenant_id, day) ON DELETE CASCADE
);
CREATE INDEX report_cdr_hourly_day ON report_cdr_hourly (tenant_id, day);

CREATE TABLE report_did_daily (
    tenant_id               bigint NOT NULL,
    day                     date   NOT NULL,
    did                     text   NOT NULL,
    status                  text   NOT NULL,
    calls                   bigint NOT NULL,
    answered                bigint NOT NULL,
    talk_secs               bigint NOT NULL,
    answered_with_duration  bigint NOT NULL,
    dial_secs_sum           bigint NOT NULL,
    with_dial_time          bigint NOT NULL,
    FOREIGN KEY (tenant_id, day) REFERENCES report_rollup_days (tenant_id, day) ON DELETE CASCADE
);
CREATE INDEX report_did_daily_day ON report_did_daily (tenant_id, day);

-- ... and per status and dial time (the summary's additive figures and its
-- dial-time percentile, read from this histogram).
CREATE TABLE report_dial_daily (
    tenant_id               bigint NOT NULL,
    day                     date   NOT NULL,
    status                  text   NOT NULL,
    dial_secs               bigint,
    calls                   bigint NOT NULL,
    answered                bigint NOT NULL,
    talk_secs               bigint NOT NULL,
    answered_with_duration  bigint NOT NULL,
    dial_secs_sum           bigint NOT NULL,
    with_dial_time          bigint NOT NULL,
    FOREIGN KEY (tenant_id, day) REFERENCES report_rollup_days (tenant_id, day) ON DELETE CASCADE
);
CREATE INDEX report_dial_daily_day ON report_dial_daily (tenant_id, day);

-- A CDR (or call step) that arrives for a day already rolled up makes that
-- day raw again until it is rolled up anew. Only batches holding a row more
-- than 24 hours old can touch a closed day: the check is a scan of the batch.
CREATE FUNCTION report_rollup_stale_cdrs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows WHERE started_at < now() - interval '24 hours') THEN
        DELETE FROM report_rollup_days d
        USING (SELECT DISTINCT tenant_id, (started_at AT TIME ZONE 'UTC')::date AS day
               FROM new_rows WHERE started_at < now() - interval '24 hours') n
        WHERE d.tenant_id = n.tenant_id AND d.day = n.day;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER cdrs_report_rollup_stale AFTER INSERT ON cdrs
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_rollup_stale_cdrs();

-- The funnel counts a step for a call started at most 24 hours before it
-- and at most 1 hour after it (clocks differ).
CREATE FUNCTION report_rollup_stale_steps() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows WHERE at < now() - interval '23 hours') THEN
        DELETE FROM report_rollup_days d
        USING (SELECT DISTINCT tenant_id, day
               FROM new_rows,
                    LATERAL (VALUES (((at - interval '24 hours') AT TIME ZONE 'UTC')::date),
                                    ((at AT TIME ZONE 'UTC')::date),
                                    (((at + interval '1 hour') AT TIME ZONE 'UTC')::date)) AS v (day)
               WHERE at < now() - interval '23 hours') n
        WHERE d.tenant_id = n.tenant_id AND d.day = n.day;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER call_steps_report_rollup_stale AFTER INSERT ON call_steps
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_rollup_stale_steps();
