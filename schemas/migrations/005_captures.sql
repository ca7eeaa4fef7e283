-- Photographs in (capture API and STOW-RS JSON + bulk data): captures, their files, consent records,
-- and the image-quality figures of stored instances.

-- One capture = one request from a capture station (or one STOW-RS JSON data set). Its files are
-- converted by the `convert-photo` job; `context` is the normalised clinical context (capture/types.ts).
CREATE TABLE captures (
  id               uuid PRIMARY KEY,
  source           text NOT NULL CHECK (source IN ('capture-api', 'stow-rs')),
  created_by       text NOT NULL,             -- token subject of the submitting user or system
  client_id        text,                      -- token client (capture station / EPR), when known
  idempotency_key  text,                      -- Idempotency-Key header: a retried POST returns this capture
  study_uid        text NOT NULL,             -- new or existing study the files go to
  accession_number text,                      -- the request's, so the next capture for it finds the study before it is indexed
  fingerprint      text,                      -- SHA-256 of the request's metadata and files: a reused Idempotency-Key must match
  context          jsonb NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (created_by, idempotency_key)
);
CREATE INDEX captures_study ON captures (study_uid);
CREATE INDEX captures_accession ON captures (accession_number);

CREATE TABLE capture_files (
  capture_id       uuid NOT NULL REFERENCES captures (id),
  file_index       integer NOT NULL,          -- order in the request, from 0
  file_name        text NOT NULL,
  content_type     text,
  size_bytes       bigint NOT NULL,
  sha256           text NOT NULL,             -- of the original upload, kept unchanged for provenance
  upload_key       text,                      -- object key of the original; NULL when it was rejected before storing
  image            jsonb NOT NULL,            -- ImageContext of the file's group
  series_uid       text NOT NULL,
  sop_uid          text NOT NULL,             -- assigned at capture: a retried conversion writes the same instance
  series_number    integer NOT NULL,
  instance_number  integer NOT NULL,
  status           text NOT NULL CHECK (status IN ('queued', 'converting', 'stored', 'failed')),
  reason           text,                      -- why it failed (or why it is being retried)
  failure          text CHECK (failure IN ('input', 'refused', 'processing')),  -- whose fault, when failed
  attempts         integer NOT NULL DEFAULT 0,
  encoding         text,                      -- wrapped | reencoded | lossless, once stored
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (capture_id, file_index)
);
-- One live file per SOP Instance UID; a failed one frees its UID for a corrected re-send (STOW-RS).
CREATE UNIQUE INDEX capture_files_sop ON capture_files (sop_uid) WHERE status <> 'failed';
-- Every file of a SOP Instance UID, failed ones included (findFileBySop), which the partial index above cannot serve.
CREATE INDEX capture_files_sop_all ON capture_files (sop_uid);

-- The authoritative consent record (DOMAIN.md): append-only history per study; the latest row wins.
-- Withdrawal is a new row with status 'withdrawn'. Instances never carry consent: it changes, they don't.
CREATE TABLE consent_records (
  id               bigserial PRIMARY KEY,
  study_uid        text NOT NULL,
  patient_id       text NOT NULL,
  issuer           text NOT NULL DEFAULT '',
  level            text NOT NULL CHECK (level IN ('record', 'teaching', 'publication')),
  status           text NOT NULL DEFAULT 'given' CHECK (status IN ('given', 'withdrawn')),
  consented_by     text NOT NULL,             -- who took the consent (as stated by the capture station)
  consented_at     timestamptz NOT NULL,      -- when it was given
  recorded_by      text NOT NULL,             -- authenticated subject that entered it into Lucida
  recorded_at      timestamptz NOT NULL DEFAULT now(),
  capture_id       uuid REFERENCES captures (id)
);
CREATE INDEX consent_records_study ON consent_records (study_uid, id);
-- The consent entered with a capture (its status document).
CREATE INDEX consent_records_capture ON consent_records (capture_id, id);

-- Image-quality figures (sharpness, clipping, resolution) written by the `derive` job.
ALTER TABLE instances ADD COLUMN qa jsonb;
