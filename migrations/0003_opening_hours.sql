-- Opening hours per service point, e.g. 'mon-thu 08:00-14:30, fri 08:00-11:00' (WIB).
ALTER TABLE service_points ADD COLUMN hours TEXT NOT NULL
    DEFAULT 'mon-thu 08:00-14:30, fri 08:00-11:00';
