-- studies_date_time (study_date, study_time) of 001 duplicates studies_date_order of 002
-- (study_date DESC NULLS LAST, study_time DESC NULLS LAST, pk), which serves StudyDate and
-- StudyDate + StudyTime ranges alike (a btree is read in either direction), at a cost on every commit.
DROP INDEX IF EXISTS studies_date_time;
