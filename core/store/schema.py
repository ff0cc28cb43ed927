"""The database schema, as numbered migrations (index + 1 == PRAGMA user_version).

Append only once released. Every timestamp is UTC epoch seconds; Meta's timestamps for anything Meta sent.
"""

from __future__ import annotations

import aiosqlite

_V1 = """
CREATE TABLE channel (
    phone_number_id      TEXT PRIMARY KEY,
    waba_id              TEXT NOT NULL,
    name                 TEXT NOT NULL,
    display_phone_number TEXT NOT NULL,
    verified_name        TEXT,
    quality_rating       TEXT,
    messaging_limit_tier TEXT,
    health               TEXT NOT NULL DEFAULT 'unknown',   -- ok | token_invalid | unknown
    last_webhook_at      INTEGER,
    updated_at           INTEGER
);

-- Value-level webhook errors and other problems worth showing on a channel's health.
CREATE TABLE channel_error (
    id         INTEGER PRIMARY KEY,
    channel    TEXT,
    waba_id    TEXT,
    code       INTEGER,
    title      TEXT,
    message    TEXT,
    details    TEXT,
    at         INTEGER NOT NULL
);

CREATE TABLE agent (
    name  TEXT PRIMARY KEY,
    team  TEXT
);

CREATE TABLE contact (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    phone      TEXT,             -- as the agent typed or imported it, any format
    mobile     TEXT,
    email      TEXT,
    owner      TEXT,
    wa_id      TEXT,             -- WhatsApp id as Meta sent it (digits, maybe not valid E.164)
    user_id    TEXT,             -- Meta's business-scoped user id (BSUID), opaque
    e164       TEXT,             -- a valid E.164 normalisation of wa_id, or NULL
    created_at INTEGER NOT NULL
);
CREATE INDEX contact_by_wa_id ON contact(wa_id);
CREATE INDEX contact_by_user_id ON contact(user_id);

-- Every number a contact can be reached on, normalised to E.164, for auto-association (F18).
CREATE TABLE contact_number (
    contact_id INTEGER NOT NULL REFERENCES contact(id) ON DELETE CASCADE,
    e164       TEXT NOT NULL,
    PRIMARY KEY (e164, contact_id)
);

-- One thread per (connected number, customer). A customer is known by wa_id or, failing that, BSUID.
CREATE TABLE thread (
    id              INTEGER PRIMARY KEY,
    channel         TEXT NOT NULL,
    wa_id           TEXT,
    user_id         TEXT,
    contact_id      INTEGER REFERENCES contact(id),
    status          TEXT NOT NULL DEFAULT 'open',
    owner           TEXT,
    team            TEXT,
    created_at      INTEGER NOT NULL,
    last_message_at INTEGER,
    last_inbound_at INTEGER,     -- the customer's last real message (Meta's clock): session = +24 h
    last_direction  TEXT,
    preview         TEXT NOT NULL DEFAULT '',
    unread          INTEGER NOT NULL DEFAULT 0,
    has_attachment  INTEGER NOT NULL DEFAULT 0,
    closed_at       INTEGER
);
CREATE UNIQUE INDEX thread_by_wa_id ON thread(channel, wa_id) WHERE wa_id IS NOT NULL;
CREATE UNIQUE INDEX thread_by_user_id ON thread(channel, user_id) WHERE wa_id IS NULL AND user_id IS NOT NULL;
CREATE INDEX thread_by_status ON thread(status, last_message_at DESC);
CREATE INDEX thread_by_owner ON thread(owner, status, last_message_at DESC);
CREATE INDEX thread_by_contact ON thread(contact_id);
CREATE INDEX thread_by_session ON thread(status, last_inbound_at);

CREATE TABLE message (
    id                INTEGER PRIMARY KEY,
    thread_id         INTEGER NOT NULL REFERENCES thread(id),
    channel           TEXT NOT NULL,
    wamid             TEXT,            -- NULL for a queued outbound message not yet accepted, and for notes
    direction         TEXT NOT NULL,   -- in | out
    type              TEXT NOT NULL,   -- Meta's type, 'template', 'note', or 'unsupported'
    raw_type          TEXT,            -- the type as Meta named it (for unknown/unsupported placeholders)
    text              TEXT NOT NULL DEFAULT '',
    timestamp         INTEGER NOT NULL,
    status            TEXT,            -- outbound: queued/sent/delivered/read/played/failed
    status_at         INTEGER,
    error_code        INTEGER,
    error_title       TEXT,
    error_details     TEXT,
    context_wamid     TEXT,            -- quoted message; for reactions the message reacted to
    author            TEXT,            -- agent name for outbound messages and notes
    media_id          TEXT,
    mime_type         TEXT,
    file_size         INTEGER,
    file_name         TEXT,
    sha256            TEXT,
    media_path        TEXT,
    quarantined       INTEGER NOT NULL DEFAULT 0,
    quarantine_reason TEXT,
    payload           TEXT             -- the message object as received / the request as sent (JSON)
);
CREATE UNIQUE INDEX message_by_wamid ON message(channel, wamid) WHERE wamid IS NOT NULL;
CREATE INDEX message_by_thread ON message(thread_id, timestamp, id);
CREATE INDEX message_by_context ON message(context_wamid) WHERE context_wamid IS NOT NULL;

-- Every status Meta reported, kept as history. A status for a wamid we do not know yet is "parked":
-- it stays here and is applied when that message is stored (see store.apply_parked_statuses).
CREATE TABLE status_event (
    id            INTEGER PRIMARY KEY,
    channel       TEXT NOT NULL,
    wamid         TEXT NOT NULL,
    status        TEXT NOT NULL,
    timestamp     INTEGER NOT NULL,
    recipient_id  TEXT,
    callback_data TEXT,            -- biz_opaque_callback_data: our outbox id travels here
    error_code    INTEGER,
    error_title   TEXT,
    error_details TEXT,
    pricing       TEXT,            -- JSON as received
    conversation  TEXT,            -- JSON as received (API <= v23.0)
    UNIQUE (wamid, status)
);

-- Everything the receiver answered 200 for, byte for byte, so a parser bug never loses a webhook.
CREATE TABLE raw_event (
    id          INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    body        BLOB NOT NULL,
    outcome     TEXT NOT NULL,     -- ok | unparsed | partial | failed (of the latest attempt)
    note        TEXT
);

-- Agent intents waiting for the Graph API. Claimed with a lease so two senders never send one row.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    message_id      INTEGER REFERENCES message(id),
    thread_id       INTEGER REFERENCES thread(id),
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,     -- wa_id / number / BSUID as we address it
    kind            TEXT NOT NULL,     -- text | template | media | reaction | read
    request         TEXT NOT NULL,     -- JSON body for /messages, minus the outbox id
    media_file      TEXT,              -- local file to upload first (media sends)
    state           TEXT NOT NULL DEFAULT 'queued',  -- queued | sending | sent | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_until     REAL,
    wamid           TEXT,
    error_code      INTEGER,
    error_title     TEXT,
    error_details   TEXT,
    ambiguous       INTEGER NOT NULL DEFAULT 0,  -- a send whose response was lost, resent blind
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    agent           TEXT
);
CREATE INDEX outbox_ready ON outbox(state, next_attempt_at);
CREATE INDEX outbox_by_recipient ON outbox(channel, recipient, id);

-- F8: conversations counted against the monthly quota.
CREATE TABLE conversation (
    id         INTEGER PRIMARY KEY,
    thread_id  INTEGER NOT NULL REFERENCES thread(id),
    channel    TEXT NOT NULL,
    origin     TEXT NOT NULL,      -- customer | business
    started_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    month      TEXT NOT NULL       -- 'YYYY-MM' (UTC) it counts against
);
CREATE INDEX conversation_by_month ON conversation(month);
CREATE INDEX conversation_by_thread ON conversation(thread_id, expires_at);

CREATE TABLE template (
    id               TEXT PRIMARY KEY,
    waba_id          TEXT NOT NULL,
    name             TEXT NOT NULL,
    language         TEXT NOT NULL,
    status           TEXT NOT NULL,
    category         TEXT NOT NULL DEFAULT '',
    parameter_format TEXT NOT NULL DEFAULT 'POSITIONAL',
    components       TEXT NOT NULL DEFAULT '[]',
    synced_at        INTEGER NOT NULL,
    UNIQUE (waba_id, name, language)
);

CREATE TABLE custom_view (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    filters    TEXT NOT NULL,      -- JSON: {"source": ["whatsapp"], "channel": [...], "owner": ..., ...}
    created_by TEXT,
    created_at INTEGER NOT NULL,
    position   INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE setting (
    agent TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (agent, key)
);

-- What changed, for the live TUIs: each writer appends in the same transaction as its change.
CREATE TABLE change_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    kind      TEXT NOT NULL,       -- message | status | thread | view | template | channel
    thread_id INTEGER,
    at        INTEGER NOT NULL
);

CREATE VIRTUAL TABLE message_fts USING fts5(text, content='message', content_rowid='id');
CREATE TRIGGER message_fts_ai AFTER INSERT ON message BEGIN
    INSERT INTO message_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER message_fts_ad AFTER DELETE ON message BEGIN
    INSERT INTO message_fts(message_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER message_fts_au AFTER UPDATE OF text ON message BEGIN
    INSERT INTO message_fts(message_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO message_fts(rowid, text) VALUES (new.id, new.text);
END;

CREATE VIRTUAL TABLE contact_fts USING fts5(name, numbers, content='');
CREATE TRIGGER contact_fts_ai AFTER INSERT ON contact BEGIN
    INSERT INTO contact_fts(rowid, name, numbers)
    VALUES (new.id, new.name, coalesce(new.phone, '') || ' ' || coalesce(new.mobile, '') || ' ' || coalesce(new.wa_id, '') || ' ' || coalesce(new.e164, '') || ' ' || coalesce(new.email, ''));
END;
CREATE TRIGGER contact_fts_au AFTER UPDATE ON contact BEGIN
    INSERT INTO contact_fts(contact_fts, rowid, name, numbers)
    VALUES ('delete', old.id, old.name, coalesce(old.phone, '') || ' ' || coalesce(old.mobile, '') || ' ' || coalesce(old.wa_id, '') || ' ' || coalesce(old.e164, '') || ' ' || coalesce(old.email, ''));
    INSERT INTO contact_fts(rowid, name, numbers)
    VALUES (new.id, new.name, coalesce(new.phone, '') || ' ' || coalesce(new.mobile, '') || ' ' || coalesce(new.wa_id, '') || ' ' || coalesce(new.e164, '') || ' ' || coalesce(new.email, ''));
END;
"""

# Issue 8: a body answered 200 that did not go in whole is "pending" and tried again (core.raw_events) until it
# does, instead of being forgotten. Rows the old receiver kept after a failed ingest become pending too.
_V2 = """
ALTER TABLE raw_event ADD COLUMN state TEXT NOT NULL DEFAULT 'done';   -- done | pending
ALTER TABLE raw_event ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE raw_event ADD COLUMN next_attempt_at INTEGER;
UPDATE raw_event SET state = 'pending', next_attempt_at = 0 WHERE outcome = 'unparsed' OR note LIKE 'ingest failed%';
CREATE INDEX raw_event_pending ON raw_event(next_attempt_at) WHERE state = 'pending';
"""

# Letters unicode61's remove_diacritics leaves alone but agents type without their marks (Polish ł, Nordic ø æ,
# German ß, Turkish dotless ı, Croatian đ, …). Folded by the same table in the triggers (as SQL replace()) and in
# the query (core.views.fold), so "Michal" finds "Michał". Extend it only with a migration that rebuilds the index.
FOLDS: tuple[tuple[str, str], ...] = (
    ("ł", "l"), ("Ł", "L"), ("ŀ", "l"), ("Ŀ", "L"), ("ø", "o"), ("Ø", "O"), ("æ", "ae"), ("Æ", "AE"),
    ("œ", "oe"), ("Œ", "OE"), ("ß", "ss"), ("ẞ", "SS"), ("đ", "d"), ("Đ", "D"), ("ð", "d"), ("Ð", "D"),
    ("þ", "th"), ("Þ", "TH"), ("ı", "i"), ("ħ", "h"), ("Ħ", "H"), ("ŧ", "t"), ("Ŧ", "T"), ("ĳ", "ij"), ("Ĳ", "IJ"),
)


def _folded(sql: str) -> str:
    """`sql` (an expression) with FOLDS applied, as nested replace() calls: plain SQL, so every connection and
    tool that writes a message keeps the index true without registering a function."""
    for letter, plain in FOLDS:
        sql = f"replace({sql}, '{letter}', '{plain}')"
    return sql


def _contact_text(row: str) -> str:
    return (f"{_folded(row + '.name')}, coalesce({row}.phone, '') || ' ' || coalesce({row}.mobile, '') || ' ' ||"
            f" coalesce({row}.wa_id, '') || ' ' || coalesce({row}.e164, '') || ' ' || coalesce({row}.email, '')")


# Search folds letters (FOLDS); the message index becomes contentless: it holds folded text, not message.text.
# The contact index is rewritten only when an indexed column changes, not on every UPDATE of a contact.
# A customer's BSUIDs over time (they rotate); edits and deletions the customer made (coexistence numbers),
# kept even when they arrive before the message they change; value-level errors keyed so a retry stores nothing.
_V3 = f"""
DROP TRIGGER message_fts_ai;
DROP TRIGGER message_fts_ad;
DROP TRIGGER message_fts_au;
DROP TABLE message_fts;
CREATE VIRTUAL TABLE message_fts USING fts5(text, content='');
INSERT INTO message_fts(rowid, text) SELECT id, {_folded('text')} FROM message;
CREATE TRIGGER message_fts_ai AFTER INSERT ON message BEGIN
    INSERT INTO message_fts(rowid, text) VALUES (new.id, {_folded('new.text')});
END;
CREATE TRIGGER message_fts_ad AFTER DELETE ON message BEGIN
    INSERT INTO message_fts(message_fts, rowid, text) VALUES ('delete', old.id, {_folded('old.text')});
END;
CREATE TRIGGER message_fts_au AFTER UPDATE OF text ON message BEGIN
    INSERT INTO message_fts(message_fts, rowid, text) VALUES ('delete', old.id, {_folded('old.text')});
    INSERT INTO message_fts(rowid, text) VALUES (new.id, {_folded('new.text')});
END;

DROP TRIGGER contact_fts_ai;
DROP TRIGGER contact_fts_au;
DROP TABLE contact_fts;
CREATE VIRTUAL TABLE contact_fts USING fts5(name, numbers, content='');
INSERT INTO contact_fts(rowid, name, numbers) SELECT c.id, {_contact_text('c')} FROM contact c;
CREATE TRIGGER contact_fts_ai AFTER INSERT ON contact BEGIN
    INSERT INTO contact_fts(rowid, name, numbers) VALUES (new.id, {_contact_text('new')});
END;
CREATE TRIGGER contact_fts_au AFTER UPDATE OF name, phone, mobile, wa_id, e164, email ON contact BEGIN
    INSERT INTO contact_fts(contact_fts, rowid, name, numbers) VALUES ('delete', old.id, {_contact_text('old')});
    INSERT INTO contact_fts(rowid, name, numbers) VALUES (new.id, {_contact_text('new')});
END;
CREATE TRIGGER contact_fts_ad AFTER DELETE ON contact BEGIN
    INSERT INTO contact_fts(contact_fts, rowid, name, numbers) VALUES ('delete', old.id, {_contact_text('old')});
END;

CREATE TABLE contact_user_id (
    contact_id INTEGER NOT NULL REFERENCES contact(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    PRIMARY KEY (user_id, contact_id)
);
INSERT OR IGNORE INTO contact_user_id(contact_id, user_id) SELECT id, user_id FROM contact WHERE user_id IS NOT NULL;

ALTER TABLE message ADD COLUMN edited_at INTEGER;   -- the customer edited it (text holds the newest version)
ALTER TABLE message ADD COLUMN revoked_at INTEGER;  -- the customer deleted it for everyone
-- Every edit/revoke as received: the history of a message's text, applied when its message is stored.
CREATE TABLE message_change (
    id            INTEGER PRIMARY KEY,
    channel       TEXT NOT NULL,
    wamid         TEXT NOT NULL,   -- the edit's / revoke's own id
    original_wamid TEXT NOT NULL,
    kind          TEXT NOT NULL,   -- edit | revoke
    text          TEXT NOT NULL DEFAULT '',
    timestamp     INTEGER NOT NULL,
    UNIQUE (channel, wamid)
);
CREATE INDEX message_change_by_original ON message_change(channel, original_wamid);

-- The session anchor is derived from these two (core.ingest.refresh_session): each a one-step index lookup.
CREATE INDEX message_session_opener ON message(thread_id, timestamp)
    WHERE direction = 'in' AND type NOT IN ('reaction', 'system', 'unsupported');
CREATE INDEX message_session_shut ON message(thread_id, status_at)
    WHERE direction = 'out' AND status = 'failed' AND error_code = 131047;

ALTER TABLE channel_error ADD COLUMN fingerprint TEXT;
CREATE INDEX channel_error_by_fingerprint ON channel_error(fingerprint, at);
"""

# Issue 7: what an agent typed is kept per thread (drafts survive a restart and a crash), and every compose
# carries a client key so that it is queued once, however many times it is submitted, by however many processes.
_V4_DRAFTS_AND_CLIENT_KEYS = """
CREATE TABLE draft (
    agent           TEXT NOT NULL,
    thread_id       INTEGER NOT NULL REFERENCES thread(id) ON DELETE CASCADE,
    mode            TEXT NOT NULL DEFAULT 'reply',  -- reply | note
    reply_text      TEXT NOT NULL DEFAULT '',
    note_text       TEXT NOT NULL DEFAULT '',
    target_thread   INTEGER,          -- the chosen channel: the contact's thread on that number (NULL = this one)
    attachment      TEXT,             -- a file the agent picked and has not sent yet
    caption         TEXT NOT NULL DEFAULT '',
    client_key      TEXT NOT NULL,    -- the key the next send of this draft is queued under
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (agent, thread_id)
);
ALTER TABLE message ADD COLUMN client_key TEXT;
CREATE UNIQUE INDEX message_by_client_key ON message(client_key);
ALTER TABLE outbox ADD COLUMN client_key TEXT;
CREATE UNIQUE INDEX outbox_by_client_key ON outbox(client_key);
"""

# A failed media download: why, how often it was tried, and when to try again (NULL: no more tries).
_MEDIA_RETRY = """
ALTER TABLE message ADD COLUMN media_error TEXT;
ALTER TABLE message ADD COLUMN media_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE message ADD COLUMN media_retry_at INTEGER;
CREATE INDEX message_media_retry ON message(media_retry_at) WHERE media_retry_at IS NOT NULL;
"""

# Issue 12: what the sidebar and the list's title count, and phone-number search, answered from small tables the
# triggers keep instead of a pass over every thread (those grew linearly: 28 ms at 100k threads, 85 ms at 300k).
# thread_tally: one row per combination of the columns a view filters on (core.views.where), with its thread count;
# a view's count is the sum of the rows its WHERE clause keeps. thread_digits: every tail (4 digits or more) of a
# thread's wa_id, so "digits anywhere in the number" is a range on an index (tail >= d AND tail < d || ':').
def _same_group(row: str) -> str:
    """The tally row of the thread `row` (new/old) in a trigger."""
    return " AND ".join(f"{column} IS ({row}.unread > 0)" if column == "unread" else f"{column} IS {row}.{column}"
                        for column in ("status", "last_direction", "owner", "team", "channel", "unread",
                                       "has_attachment"))


_PERF_COUNTS_AND_DIGITS = f"""
CREATE TABLE thread_tally (
    status         TEXT,
    last_direction TEXT,
    owner          TEXT,
    team           TEXT,
    channel        TEXT,
    unread         INTEGER,   -- 1 when the thread's unread > 0
    has_attachment INTEGER,
    n              INTEGER NOT NULL
);
CREATE INDEX thread_tally_by_group ON thread_tally(status, owner, channel, last_direction, team);
INSERT INTO thread_tally(status, last_direction, owner, team, channel, unread, has_attachment, n)
    SELECT status, last_direction, owner, team, channel, unread > 0, has_attachment, count(*) FROM thread
    GROUP BY status, last_direction, owner, team, channel, unread > 0, has_attachment;
CREATE TRIGGER thread_tally_ai AFTER INSERT ON thread BEGIN
    INSERT INTO thread_tally(status, last_direction, owner, team, channel, unread, has_attachment, n)
        SELECT new.status, new.last_direction, new.owner, new.team, new.channel, new.unread > 0, new.has_attachment, 0
        WHERE NOT EXISTS (SELECT 1 FROM thread_tally WHERE {_same_group('new')});
    UPDATE thread_tally SET n = n + 1 WHERE {_same_group('new')};
END;
CREATE TRIGGER thread_tally_ad AFTER DELETE ON thread BEGIN
    UPDATE thread_tally SET n = n - 1 WHERE {_same_group('old')};
END;
CREATE TRIGGER thread_tally_au AFTER UPDATE OF status, last_direction, owner, team, channel, unread, has_attachment
ON thread WHEN old.status IS NOT new.status OR old.last_direction IS NOT new.last_direction
    OR old.owner IS NOT new.owner OR old.team IS NOT new.team OR old.channel IS NOT new.channel
    OR (old.unread > 0) IS NOT (new.unread > 0) OR old.has_attachment IS NOT new.has_attachment
BEGIN
    UPDATE thread_tally SET n = n - 1 WHERE {_same_group('old')};
    INSERT INTO thread_tally(status, last_direction, owner, team, channel, unread, has_attachment, n)
        SELECT new.status, new.last_direction, new.owner, new.team, new.channel, new.unread > 0, new.has_attachment, 0
        WHERE NOT EXISTS (SELECT 1 FROM thread_tally WHERE {_same_group('new')});
    UPDATE thread_tally SET n = n + 1 WHERE {_same_group('new')};
END;

CREATE TABLE digit_position (k INTEGER PRIMARY KEY);
INSERT INTO digit_position(k) VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9),(10),(11),(12),(13),(14),(15),(16),
    (17),(18),(19),(20),(21),(22),(23),(24),(25),(26),(27),(28),(29),(30),(31),(32);
CREATE TABLE thread_digits (
    tail      TEXT NOT NULL,
    thread_id INTEGER NOT NULL
);
CREATE INDEX thread_digits_by_tail ON thread_digits(tail, thread_id);
CREATE INDEX thread_digits_by_thread ON thread_digits(thread_id);
INSERT INTO thread_digits(tail, thread_id)
    SELECT substr(t.wa_id, p.k), t.id FROM thread t JOIN digit_position p ON p.k <= length(t.wa_id) - 3
    WHERE t.wa_id IS NOT NULL;
CREATE TRIGGER thread_digits_ai AFTER INSERT ON thread WHEN new.wa_id IS NOT NULL BEGIN
    INSERT INTO thread_digits(tail, thread_id)
        SELECT substr(new.wa_id, k), new.id FROM digit_position WHERE k <= length(new.wa_id) - 3;
END;
CREATE TRIGGER thread_digits_au AFTER UPDATE OF wa_id ON thread WHEN old.wa_id IS NOT new.wa_id BEGIN
    DELETE FROM thread_digits WHERE thread_id = old.id;
    INSERT INTO thread_digits(tail, thread_id)
        SELECT substr(new.wa_id, k), new.id FROM digit_position WHERE k <= length(new.wa_id) - 3
        AND new.wa_id IS NOT NULL;
END;
CREATE TRIGGER thread_digits_ad AFTER DELETE ON thread BEGIN
    DELETE FROM thread_digits WHERE thread_id = old.id;
END;
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4_DRAFTS_AND_CLIENT_KEYS, _MEDIA_RETRY, _PERF_COUNTS_AND_DIGITS)


async def migrate(db: aiosqlite.Connection) -> None:
    """Bring the database up to date; each migration commits together with its number, or not at all."""
    [(version,)] = await db.execute_fetchall("PRAGMA user_version")
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        try:
            await db.executescript(f"BEGIN IMMEDIATE; {script}; PRAGMA user_version = {number}; COMMIT;")
        except Exception:
            if db.in_transaction:
                await db.execute("ROLLBACK")
            raise
