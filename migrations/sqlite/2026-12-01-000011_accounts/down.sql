ALTER TABLE users DROP COLUMN last_active_at;
ALTER TABLE users DROP COLUMN expires_at;
ALTER TABLE users DROP COLUMN email;
ALTER TABLE users DROP COLUMN full_name;
