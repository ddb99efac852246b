-- The register of sites (server-wide, like users): screenings and users name registered
-- sites only; the time zone (IANA name) is how the site's users see times.
CREATE TABLE sites (
    code TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    email TEXT,
    created_at TIMESTAMP NOT NULL,
    changed_at TIMESTAMP
);
