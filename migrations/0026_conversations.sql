-- Issue 15, part 1: where each person is in a flow, and what the flow has collected so far,
-- kept in the database instead of the process's memory, so that a restart (and, later, another
-- worker) carries on with it. Written by bot/conversations.py around each update.
-- A row is one of:
--   name = a ConversationHandler's name, chat_id and user_id: that conversation's state;
--   name = '@user', chat_id = 0: the account's flow data (PTB's user_data);
--   name = '@chat', user_id = 0: the chat's flow data (PTB's chat_data).
-- value is JSON (bot/services/conversations.py's codec) sealed as a whole with the vault, bound
-- to 'conversations.value' and the row's key: a draft may hold a NIK or a name.
-- A row past expires_at is over (the flow's timeout); the conversations job deletes it.
CREATE TABLE conversations (
    chat_id    INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    value      BLOB NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (chat_id, user_id, name)
) WITHOUT ROWID;

CREATE INDEX conversations_expiry ON conversations (expires_at);
