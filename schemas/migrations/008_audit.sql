-- The audit trail (services/core/audit/types.ts AuditEvent): one row per access to patient data and
-- per refused attempt, appended in batches by index/postgres-audit.ts and never changed afterwards.
--
-- Tamper evidence: each row carries `hash` = SHA-256 over the canonical serialisation of its fields
-- and `prev_hash` (services/core/audit/canonical.ts documents the exact form, version
-- 'lucida-audit-v1'); `prev_hash` is the previous row's `hash`, or 64 zeros for row 1. `id` is the
-- row's position in the chain (1, 2, 3, ... without gaps), assigned by the writer while it holds a
-- transaction-level advisory lock, so several API processes on one database keep one linear chain.
-- `npm run audit:verify` recomputes the chain.
CREATE TABLE audit_events (
  id                bigint PRIMARY KEY,
  at                timestamptz NOT NULL,             -- when the response ended
  action            text NOT NULL,                    -- policy action, or authenticate / launch-exchange / session-refresh
  outcome           text NOT NULL CHECK (outcome IN ('success', 'denied', 'not-found', 'failure')),
  status            smallint NOT NULL,                -- HTTP status sent
  subject           text,                             -- token subject (user or system client); NULL when unauthenticated
  roles             text[] NOT NULL,
  client_id         text,                             -- OAuth2 client (capture station, EPR)
  on_behalf_of      text,                             -- the end user a system client acted for
  ip                text,                             -- client address as Express saw it (TRUST_PROXY)
  user_agent        text,
  request_id        text,
  method            text NOT NULL,
  route             text,                             -- route pattern, never the URL
  patient_ids       text[] NOT NULL,
  study_uids        text[] NOT NULL,
  series_uids       text[] NOT NULL,
  sop_instance_uids text[] NOT NULL,
  query             jsonb,                            -- search parameters as sent
  detail            text,                             -- short machine-oriented note, never patient data
  prev_hash         text NOT NULL,
  hash              text NOT NULL
);

-- "Who looked at this patient's photographs?" and "this study's": GIN on the identifier arrays (@>).
CREATE INDEX audit_events_patients ON audit_events USING gin (patient_ids);
CREATE INDEX audit_events_studies ON audit_events USING gin (study_uids);
-- "What did this user do, and when?"; and everything in a time window. Newest first: read backwards.
CREATE INDEX audit_events_subject_at ON audit_events (subject, at, id);
CREATE INDEX audit_events_at ON audit_events (at, id);

-- Append-only, enforced by the database: UPDATE, DELETE and TRUNCATE raise, whoever asks (statement
-- triggers, so even a statement that would touch no row is refused).
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- And by privileges: nobody is granted more than reading and appending. The table's owner (the role
-- that ran the migrations) could still drop these triggers, so production runs the application as a
-- separate NON-OWNER role with only what it needs, e.g.
--   GRANT SELECT, INSERT ON audit_events TO lucida_app;
-- (plus its other tables); the README says so. The embedded default runs as the owner.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC;
