-- The checkpoint keys this database's logs are signed with. The first server to start
-- records its key; a server started with another key (its data directory's checkpoint.key
-- not copied from the first) is not ready (`/readyz`), so monitors never get checkpoints
-- signed by a key they do not know. Registering a key is audited in the `_system` chain.
CREATE TABLE signing_keys (
    key_id        TEXT PRIMARY KEY,
    public_key    TEXT NOT NULL,
    registered_at TIMESTAMP NOT NULL
);
