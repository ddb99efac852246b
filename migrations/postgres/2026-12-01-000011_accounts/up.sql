-- People's accounts: a full name in any script (the login `name` stays ASCII), an optional
-- e-mail, an optional expiry after which the account no longer authenticates, and when it was
-- last used (kept to the nearest few minutes, for the access review).
ALTER TABLE users ADD COLUMN full_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN expires_at TIMESTAMP;
ALTER TABLE users ADD COLUMN last_active_at TIMESTAMP;
