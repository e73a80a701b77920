-- Twin of migrations/0026_conversations.sql: conversations kept between updates (issue 15; see
-- the SQLite file for the design). value is the sealed JSON, expires_at the flow's expiry.
CREATE TABLE conversations (
    chat_id    BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    value      BYTEA NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (chat_id, user_id, name)
);

CREATE INDEX conversations_expiry ON conversations (expires_at);
