ALTER TABLE audit_heads DROP COLUMN log_frontier;
ALTER TABLE audit_heads DROP COLUMN log_size;
DROP TABLE merkle_nodes;
