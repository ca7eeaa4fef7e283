-- Access control (policy.ts): who stored each instance, so a photographer can check their own work
-- of the day and nothing else. The STOW-RS caller's token subject, or the capture's sender.
ALTER TABLE instances ADD COLUMN stored_by text;
CREATE INDEX instances_stored_by ON instances (stored_by, received_at) WHERE status = 'stored';
