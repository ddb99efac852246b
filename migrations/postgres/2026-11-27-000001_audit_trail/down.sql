DROP TABLE audit_entries;
DROP TABLE audit_heads;
DROP FUNCTION audit_heads_guard();
DROP FUNCTION audit_entries_extend_head();
DROP FUNCTION audit_entries_append_only();
