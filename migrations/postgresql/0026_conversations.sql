-- Twin of migrations/0026_conversations.sql (issue 15, part 1): where each person is in a flow
-- and what it has collected so far, sealed (see the SQLite file).
CREATE TABLE conversations (
    chat_id    BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    value      BYTEA NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (chat_id, user_id, name)
);

CREATE INDEX conversations_expiry ON conversations (expires_at);
