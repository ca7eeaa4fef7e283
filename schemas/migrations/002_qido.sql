-- Indexes for QIDO-RS paths that 001 does not cover (see services/core/index/sql/search.ts).

-- PatientName / ReferringPhysicianName prefix matching ('SMI*' → LIKE 'SMI%'): a pattern-ops btree
-- serves prefixes of any length under any collation; the trigram indexes of 001 serve '*mit*' and the
-- fuzzy-matching word patterns.
CREATE INDEX patients_name_prefix ON patients (patient_name_search text_pattern_ops);
CREATE INDEX studies_referring_prefix ON studies (referring_physician_search text_pattern_ops);

-- Single-value matching on patient-level attributes without a column (`attrs @> ...`), as 001 has
-- for studies and series.
CREATE INDEX patients_attrs ON patients USING gin (attrs jsonb_path_ops);

-- The study list order (newest first, undated last), so that an unfiltered or weakly filtered
-- study search with a limit reads only the first rows of this index.
CREATE INDEX studies_date_order ON studies (study_date DESC NULLS LAST, study_time DESC NULLS LAST, pk);

-- Fuzzy PatientName matching (fuzzymatching=true, PS3.18 §8.3.4.2): every prefix of every word of the
-- upper-cased Alphabetic name (SMITH^JO → S, SM, SMI, SMIT, SMITH, J, JO), written at commit by
-- services/core/index/normalize.ts pnWordPrefixes; a query is `patient_name_prefixes @> words`.
ALTER TABLE patients ADD COLUMN patient_name_prefixes text[] NOT NULL DEFAULT '{}';
CREATE INDEX patients_name_prefixes ON patients USING gin (patient_name_prefixes);
