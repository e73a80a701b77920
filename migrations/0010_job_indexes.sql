-- Indexes for the scheduled jobs at regency scale (1.3 M residents), checked by
-- tests/test_query_plans.py. Both are partial, so `import-residents` maintains them for the
-- rows they hold only.

-- The unrecorded (a quarter of the residents: mostly children). The reminder planners reach a
-- linked household's members through it (filtered by status and birth date before any row is
-- read), and the annual deactivation counts and updates its cohort from it alone (covering).
CREATE INDEX residents_unrecorded ON residents
    (no_kk, status_nik, tanggal_lahir, status_kawin, kode_desa, tanggal_rekam)
    WHERE tanggal_rekam IS NULL;

-- The day's recordings in the admins' digest.
CREATE INDEX residents_recorded_on ON residents (tanggal_rekam) WHERE tanggal_rekam IS NOT NULL;
