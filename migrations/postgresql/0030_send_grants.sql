-- Twin of migrations/0030_send_grants.sql: the sending budget's grants (issue 15, part 3).
ALTER TABLE send_budget ADD COLUMN grants TEXT NOT NULL DEFAULT '{}';
ALTER TABLE send_budget ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
