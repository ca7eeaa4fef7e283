-- Viewer launches and their sessions (services/core/auth/launch.ts). One row per launch: created by
-- an EPR (POST /api/launch) or by a signed-in user (IHE IID), redeemed once by the viewer for a
-- patient-scoped session, refreshed while the page is open, ended or revoked.
-- Secrets are never stored: the one-time launch code and the session's refresh cookie are kept as
-- their SHA-256 (hex). Expiry is compared with the database clock (now()), the one clock all API
-- processes share.
CREATE TABLE viewer_launches (
  id                    uuid PRIMARY KEY,
  code_hash             text NOT NULL,
  via                   text NOT NULL CHECK (via IN ('epr', 'iid')),
  patient_id            text NOT NULL,              -- the session's patient context (PatientID)
  patient_issuer        text NOT NULL DEFAULT '',   -- IssuerOfPatientID, '' when none (matched exactly)
  study_uids            text[] NOT NULL DEFAULT '{}', -- studies the viewer opens first (all of this patient)
  user_id               text NOT NULL,              -- the end user the session is for (its token subject)
  user_name             text,                       -- as the EPR sent it, for the viewer's banner
  client_id             text,                       -- the EPR client (session tokens carry it as client_id)
  launched_by           text NOT NULL,              -- token subject that asked for the launch
  reason                text,                       -- the EPR's stated reason, when sent
  created_at            timestamptz NOT NULL DEFAULT now(),
  expires_at            timestamptz NOT NULL,       -- the launch code's end
  used_at               timestamptz,                -- when the code was exchanged (once)
  session_refresh_hash  text,                       -- the current refresh cookie
  previous_refresh_hash text,                       -- the one it replaced: presented again means a stolen copy
  session_expires_at    timestamptz NOT NULL,       -- no refresh after this (SESSION_MAX_HOURS from the launch)
  refreshed_at          timestamptz,
  revoked_at            timestamptz
);
CREATE UNIQUE INDEX viewer_launches_code ON viewer_launches (code_hash);
CREATE UNIQUE INDEX viewer_launches_refresh ON viewer_launches (session_refresh_hash) WHERE session_refresh_hash IS NOT NULL;
CREATE INDEX viewer_launches_created ON viewer_launches (created_at);
