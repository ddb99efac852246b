DROP TRIGGER audit_heads_no_delete;
DROP TRIGGER audit_heads_advance;
DROP TRIGGER audit_heads_start_empty;
DROP TRIGGER audit_entries_extend_head;
DROP TRIGGER audit_entries_no_delete;
DROP TRIGGER audit_entries_no_update;
DROP TABLE audit_entries;
DROP TABLE audit_heads;
