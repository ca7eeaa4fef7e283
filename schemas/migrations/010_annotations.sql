-- The viewer's calibrations and measurements on photographs (services/core/annotations), linked to the
-- SOP Instance UID they were drawn on. Part of the medical record, so nothing is ever deleted: removing
-- one sets removed_at/removed_by, and a new calibration of a frame supersedes (removes) the previous one.
-- Measured values are not stored: the server computes them from the points and the frame's current
-- calibration whenever they are read, so a recalibration changes every measurement of the frame at once.
CREATE TABLE annotations (
  id               uuid PRIMARY KEY,
  sop_instance_uid text NOT NULL,              -- (0008,0018) of the annotated instance
  study_uid        text NOT NULL,              -- its study, series and patient, as indexed when it was annotated
  series_uid       text NOT NULL,
  patient_id       text NOT NULL,
  issuer           text NOT NULL DEFAULT '',
  frame            integer NOT NULL DEFAULT 1 CHECK (frame >= 1),
  kind             text NOT NULL CHECK (kind IN ('calibration', 'length', 'ellipse', 'freehand', 'angle')),
  points           jsonb NOT NULL,             -- [[x, y], ...] in image pixel coordinates: x = column, y = row
  length_mm        double precision CHECK ((kind = 'calibration') = (length_mm IS NOT NULL) AND (length_mm IS NULL OR length_mm > 0)),
  label            text,
  created_by       text NOT NULL,              -- token subject (the end user of a viewer session)
  client_id        text,                       -- the token's client (the EPR of a viewer session), when known
  created_at       timestamptz NOT NULL DEFAULT now(),
  removed_at       timestamptz,
  removed_by       text,
  CHECK ((removed_at IS NULL) = (removed_by IS NULL))
);
-- An instance's annotations, oldest first (the viewer's list and the timeline's counts).
CREATE INDEX annotations_sop ON annotations (sop_instance_uid, created_at);
-- One current calibration per frame: two calibrations saved at once cannot both stay current.
CREATE UNIQUE INDEX annotations_current_calibration ON annotations (sop_instance_uid, frame)
  WHERE kind = 'calibration' AND removed_at IS NULL;
