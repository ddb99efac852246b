-- Browser sessions of the web pages. Only the SHA-256 of the random session id is stored;
-- the id itself lives in the user's HttpOnly cookie. Expiry is enforced by the server:
-- `expires_at` is the absolute limit, `last_seen_at` drives the idle limit.

CREATE TABLE web_sessions (
    id_hash      TEXT PRIMARY KEY NOT NULL,
    user_name    TEXT NOT NULL REFERENCES users (name),
    created_at   TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL
);

CREATE INDEX web_sessions_user_name_idx ON web_sessions (user_name);
