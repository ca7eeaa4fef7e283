-- Ordered indexes for QIDO-RS listings that are not scoped to a study: with them a page of
-- `/series?Modality=XC&limit=100` or `/instances?SOPClassUID=...&limit=100` reads its rows in order
-- and stops, instead of sorting every matching row (which grows with the archive).
CREATE INDEX series_number_order ON series (series_number NULLS LAST, pk);
CREATE INDEX series_modality_order ON series (modality, series_number NULLS LAST, pk);
CREATE INDEX instances_number_order ON instances (instance_number NULLS LAST, pk) WHERE status = 'stored';
CREATE INDEX instances_sop_class_order ON instances (sop_class_uid, instance_number NULLS LAST, pk) WHERE status = 'stored';
