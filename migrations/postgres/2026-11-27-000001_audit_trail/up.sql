-- Audit trail: one hash chain per trial plus `_system` (see api.md, "Audit trail").
-- audit_heads holds each chain's head and is the row writers lock (FOR UPDATE) to append.

CREATE TABLE audit_heads (
    chain TEXT PRIMARY KEY NOT NULL,
    seq   BIGINT NOT NULL CHECK (seq >= 0),
    hash  TEXT NOT NULL CHECK (length(hash) = 64)
);

CREATE TABLE audit_entries (
    chain     TEXT NOT NULL REFERENCES audit_heads (chain),
    seq       BIGINT NOT NULL CHECK (seq >= 1),
    at        TIMESTAMP NOT NULL,
    actor     TEXT NOT NULL,
    role      TEXT NOT NULL,
    action    TEXT NOT NULL,
    record    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);

-- Audit rows are append-only (TRUNCATE included).
CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_entries is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only();

-- A new entry must extend its chain's head: seq = head.seq + 1, prev_hash = head.hash.
CREATE FUNCTION audit_entries_extend_head() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM audit_heads h
        WHERE h.chain = NEW.chain AND h.seq + 1 = NEW.seq AND h.hash = NEW.prev_hash
    ) THEN
        RAISE EXCEPTION 'audit entry does not extend the head of its chain'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_entries_extend_head BEFORE INSERT ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_extend_head();

-- A head starts empty and only ever advances to the entry just appended.
CREATE FUNCTION audit_heads_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.seq <> 0 OR NEW.hash <> repeat('0', 64) THEN
            RAISE EXCEPTION 'a new audit chain head must be seq 0 with the genesis hash'
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.chain IS DISTINCT FROM OLD.chain
           OR NEW.seq IS DISTINCT FROM OLD.seq + 1
           OR NOT EXISTS (
               SELECT 1 FROM audit_entries e
               WHERE e.chain = NEW.chain AND e.seq = NEW.seq AND e.hash = NEW.hash
           ) THEN
            RAISE EXCEPTION 'audit_heads may only advance to the entry just appended'
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_heads rows cannot be deleted (% refused)', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER audit_heads_start_empty BEFORE INSERT ON audit_heads
    FOR EACH ROW EXECUTE FUNCTION audit_heads_guard();
CREATE TRIGGER audit_heads_advance BEFORE UPDATE ON audit_heads
    FOR EACH ROW EXECUTE FUNCTION audit_heads_guard();
CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON audit_heads
    FOR EACH ROW EXECUTE FUNCTION audit_heads_guard();
CREATE TRIGGER audit_heads_no_truncate BEFORE TRUNCATE ON audit_heads
    FOR EACH STATEMENT EXECUTE FUNCTION audit_heads_guard();

INSERT INTO audit_heads (chain, seq, hash) VALUES ('_system', 0, repeat('0', 64));
