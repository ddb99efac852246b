-- People's accounts: a full name in any script (the login `name` stays ASCII), an optional
-- e-mail and an optional expiry after which the account no longer authenticates.
ALTER TABLE users ADD COLUMN full_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN expires_at TIMESTAMP;
