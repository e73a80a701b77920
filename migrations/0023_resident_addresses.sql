-- Issue 19: the resident import may carry a household's address (alamat, RT, RW) after
-- status_nik, for the officials' door-to-door outreach list. The address is sealed like the
-- name, bound to the resident's nik_ref; RT and RW stay in clear (two small numbers shared by a
-- neighbourhood: nothing of a NIK, and the list is sorted by them in SQL).
-- A separate table: an import of the nine columns leaves the addresses as they were.
CREATE TABLE resident_addresses (
    nik_ref       BLOB PRIMARY KEY REFERENCES residents (nik_ref)
                  ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    alamat_sealed BLOB,            -- NULL when the export left it empty
    rt            TEXT CHECK (rt IS NULL OR length(rt) BETWEEN 1 AND 4),
    rw            TEXT CHECK (rw IS NULL OR length(rw) BETWEEN 1 AND 4)
) WITHOUT ROWID;
