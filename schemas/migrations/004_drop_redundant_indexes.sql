-- Indexes that no query needs, each costing work on every STOW commit:
-- series_number and instances_sop_class are prefixes of the ordered indexes of migration 003, and no
-- query orders or filters studies by created_at.
DROP INDEX IF EXISTS series_number;
DROP INDEX IF EXISTS instances_sop_class;
DROP INDEX IF EXISTS studies_created;
