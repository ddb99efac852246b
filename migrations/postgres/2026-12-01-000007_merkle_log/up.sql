-- Each audit chain is also an RFC 6962 Merkle tree over its entries (docs/api.md, "Receipts and
-- the Merkle log"). merkle_nodes keeps every complete subtree: level 0 is an entry's leaf, with
-- the entry's random nonce; a node never changes once written. seq is the entry whose append
-- created the node. The head keeps the tree's right edge (the complete subtrees of the tree's
-- size), so an append reads nothing it would not read anyway.
CREATE TABLE merkle_nodes (
    -- No foreign key to audit_heads: the row exists (the append holds it locked), and the
    -- per-row check would run inside the chain-head lock on every append.
    chain TEXT NOT NULL,
    level INTEGER NOT NULL CHECK (level >= 0 AND level < 64),
    idx   BIGINT NOT NULL CHECK (idx >= 0),
    hash  TEXT NOT NULL CHECK (length(hash) = 64),
    nonce TEXT CHECK (length(nonce) = 64),
    seq   BIGINT NOT NULL CHECK (seq >= 1),
    PRIMARY KEY (chain, level, idx),
    CHECK ((level = 0) = (nonce IS NOT NULL))
);

CREATE FUNCTION merkle_nodes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'merkle_nodes are append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER merkle_nodes_no_update BEFORE UPDATE ON merkle_nodes
    FOR EACH ROW EXECUTE FUNCTION merkle_nodes_append_only();
CREATE TRIGGER merkle_nodes_no_delete BEFORE DELETE ON merkle_nodes
    FOR EACH ROW EXECUTE FUNCTION merkle_nodes_append_only();
CREATE TRIGGER merkle_nodes_no_truncate BEFORE TRUNCATE ON merkle_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION merkle_nodes_append_only();

-- How many entries the tree covers, and its right edge as "level:idx:hash" items joined by ",".
-- Chains that existed before this migration have log_size 0 until the server (or `trialgate
-- migrate`) commits their entries in one audited `log.started` step.
ALTER TABLE audit_heads ADD COLUMN log_size BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_heads ADD COLUMN log_frontier TEXT NOT NULL DEFAULT '';
