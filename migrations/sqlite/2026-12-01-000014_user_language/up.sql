-- A person's language for the pages (a BCP 47 tag: en, zh-CN); NULL: their browser's.
ALTER TABLE users ADD COLUMN language TEXT;
