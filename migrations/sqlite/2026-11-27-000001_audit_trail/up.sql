-- Audit trail: one hash chain per trial plus `_system` (see api.md, "Audit trail").
-- audit_heads holds each chain's head and is the row writers lock to append.

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

-- Audit rows are append-only.
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only: DELETE refused');
END;

-- A new entry must extend its chain's head: seq = head.seq + 1, prev_hash = head.hash.
CREATE TRIGGER audit_entries_extend_head BEFORE INSERT ON audit_entries
WHEN NOT EXISTS (
    SELECT 1 FROM audit_heads h
    WHERE h.chain = NEW.chain AND h.seq + 1 = NEW.seq AND h.hash = NEW.prev_hash
)
BEGIN
    SELECT RAISE(ABORT, 'audit entry does not extend the head of its chain');
END;

-- A head starts empty and only ever advances to the entry just appended.
CREATE TRIGGER audit_heads_start_empty BEFORE INSERT ON audit_heads
WHEN NEW.seq <> 0 OR NEW.hash <> '0000000000000000000000000000000000000000000000000000000000000000'
BEGIN
    SELECT RAISE(ABORT, 'a new audit chain head must be seq 0 with the genesis hash');
END;

CREATE TRIGGER audit_heads_advance BEFORE UPDATE ON audit_heads
WHEN NEW.chain IS NOT OLD.chain
  OR NEW.seq IS NOT OLD.seq + 1
  OR NOT EXISTS (
      SELECT 1 FROM audit_entries e
      WHERE e.chain = NEW.chain AND e.seq = NEW.seq AND e.hash = NEW.hash
  )
BEGIN
    SELECT RAISE(ABORT, 'audit_heads may only advance to the entry just appended');
END;

CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON audit_heads
BEGIN
    SELECT RAISE(ABORT, 'audit_heads rows cannot be deleted');
END;

INSERT INTO audit_heads (chain, seq, hash)
VALUES ('_system', 0, '0000000000000000000000000000000000000000000000000000000000000000');
