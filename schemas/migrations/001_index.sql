-- Lucida index: patients -> studies -> series -> instances.
-- Columns hold the attributes QIDO-RS matches on (PS3.18 §10.6.1.2.3, PS3.4 C.2.2.2); `attrs`/`metadata`
-- hold the level's full DICOM JSON (PS3.18 F.2) without bulk data, for includefield and /metadata.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE patients (
  pk                  bigserial PRIMARY KEY,
  patient_id          text NOT NULL,             -- (0010,0020), '' when absent
  issuer              text NOT NULL DEFAULT '',  -- (0010,0021)
  patient_name        text,                      -- (0010,0010) as received (all PN groups)
  patient_name_search text,                      -- upper-case Alphabetic group, for matching
  birth_date          text,                      -- (0010,0030) DA YYYYMMDD
  sex                 text,                      -- (0010,0040)
  attrs               jsonb NOT NULL DEFAULT '{}',
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (patient_id, issuer)
);
CREATE INDEX patients_name_trgm ON patients USING gin (patient_name_search gin_trgm_ops);
CREATE INDEX patients_birth_date ON patients (birth_date);

CREATE TABLE studies (
  pk                         bigserial PRIMARY KEY,
  study_uid                  text NOT NULL UNIQUE,     -- (0020,000D)
  patient_fk                 bigint NOT NULL REFERENCES patients (pk),
  study_date                 text,                     -- (0008,0020) DA
  study_time                 text,                     -- (0008,0030) TM normalised to HHMMSS.FFFFFF
  accession_number           text,                     -- (0008,0050)
  study_id                   text,                     -- (0020,0010)
  study_description          text,                     -- (0008,1030)
  referring_physician_search text,                     -- (0008,0090) upper-case Alphabetic group
  attrs                      jsonb NOT NULL DEFAULT '{}',
  created_at                 timestamptz NOT NULL DEFAULT now(),
  updated_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX studies_patient ON studies (patient_fk);
CREATE INDEX studies_date_time ON studies (study_date, study_time);
CREATE INDEX studies_accession ON studies (accession_number);
CREATE INDEX studies_study_id ON studies (study_id);
CREATE INDEX studies_description_trgm ON studies USING gin (study_description gin_trgm_ops);
CREATE INDEX studies_referring_trgm ON studies USING gin (referring_physician_search gin_trgm_ops);
CREATE INDEX studies_attrs ON studies USING gin (attrs jsonb_path_ops);
CREATE INDEX studies_created ON studies (created_at);

CREATE TABLE series (
  pk                 bigserial PRIMARY KEY,
  series_uid         text NOT NULL UNIQUE,     -- (0020,000E)
  study_fk           bigint NOT NULL REFERENCES studies (pk),
  modality           text,                     -- (0008,0060)
  series_number      integer,                  -- (0020,0011)
  series_description text,                     -- (0008,103E)
  pps_start_date     text,                     -- (0040,0244) DA
  pps_start_time     text,                     -- (0040,0245) TM normalised
  body_part_examined text,                     -- (0018,0015)
  laterality         text,                     -- (0020,0060)
  attrs              jsonb NOT NULL DEFAULT '{}',
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX series_study ON series (study_fk);
CREATE INDEX series_modality ON series (modality, study_fk);
CREATE INDEX series_number ON series (series_number);
CREATE INDEX series_attrs ON series USING gin (attrs jsonb_path_ops);

-- Two-phase store (STYLE.md): a 'pending' row is written before the object, and made 'stored'
-- together with the patient/study/series upserts in one statement once the object is durable.
-- A pending row that outlives its request marks an object the reconciliation pass must remove.
CREATE TABLE instances (
  pk                   bigserial PRIMARY KEY,
  sop_uid              text NOT NULL UNIQUE,     -- (0008,0018)
  status               text NOT NULL CHECK (status IN ('pending', 'stored')),
  study_uid            text NOT NULL,            -- (0020,000D), kept for reconciliation of pending rows
  series_uid           text NOT NULL,            -- (0020,000E)
  study_fk             bigint REFERENCES studies (pk),  -- NULL while pending
  series_fk            bigint REFERENCES series (pk),   -- NULL while pending
  sop_class_uid        text NOT NULL,            -- (0008,0016)
  instance_number      integer,                  -- (0020,0013)
  transfer_syntax_uid  text NOT NULL,            -- (0002,0010) as stored
  rows                 integer,                  -- (0028,0010)
  columns              integer,                  -- (0028,0011)
  number_of_frames     integer,                  -- (0028,0008), 1 for single-frame images
  content_date         text,                     -- (0008,0023) DA
  content_time         text,                     -- (0008,0033) TM normalised
  acquisition_datetime text,                     -- (0008,002A) DT
  object_key           text NOT NULL,
  size_bytes           bigint NOT NULL,
  sha256               text NOT NULL,
  metadata             jsonb,                    -- full DICOM JSON, bulk data as relative BulkDataURI
  received_at          timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instances_series ON instances (series_fk, instance_number) WHERE status = 'stored';
CREATE INDEX instances_study ON instances (study_fk) WHERE status = 'stored';
CREATE INDEX instances_sop_class ON instances (sop_class_uid) WHERE status = 'stored';
CREATE INDEX instances_content_date ON instances (content_date) WHERE status = 'stored';
CREATE INDEX instances_pending ON instances (received_at) WHERE status = 'pending';
CREATE INDEX instances_metadata ON instances USING gin (metadata jsonb_path_ops);
