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

# Issue 9: records beside the threads (F17-F19, F30). Companies, deals, tickets and custom objects are rows of one
# `record` table (its `type` names a built-in or an admin's object_type; typed properties as a JSON object checked
# by core.records.properties); contacts keep their table and gain custom properties and a WhatsApp opt-in. A
# contact's phone and mobile are matched through contact_number (source says where each number came from), so an
# inbound message finds them with the same one-index lookup as before. `association` links a contact, a thread
# or another record to a record; a merge of two contacts is recorded with everything the merged one held.
_RECORDS = """
ALTER TABLE contact ADD COLUMN props TEXT NOT NULL DEFAULT '{}';  -- custom properties, JSON object of strings
ALTER TABLE contact ADD COLUMN opt_in_source TEXT;                -- F30: where the WhatsApp opt-in was given
ALTER TABLE contact ADD COLUMN opt_in_date TEXT;                  -- and when (yyyy-mm-dd)
ALTER TABLE contact_number ADD COLUMN source TEXT NOT NULL DEFAULT 'whatsapp';  -- whatsapp | phone | mobile | merged
CREATE INDEX contact_by_name ON contact(name, id);
CREATE INDEX contact_by_email ON contact(email) WHERE email IS NOT NULL;
CREATE INDEX contact_number_by_contact ON contact_number(contact_id);

-- Admin-defined object types, and the custom properties of contacts (name 'contact'): JSON [{name, type, options}].
CREATE TABLE object_type (
    name       TEXT PRIMARY KEY,
    label      TEXT NOT NULL,
    properties TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE record (
    id         INTEGER PRIMARY KEY,
    type       TEXT NOT NULL,       -- company | deal | ticket | an object_type's name
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,       -- the name case-folded: a CSV's company column finds its company by it
    owner      TEXT,
    props      TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX record_by_type ON record(type, name_key, id);

-- What search finds a contact or a record by beyond contact_fts: every property, the owner, numbers as digits.
CREATE VIRTUAL TABLE contact_props_fts USING fts5(text);
CREATE VIRTUAL TABLE record_fts USING fts5(text);

CREATE TABLE association (
    kind      TEXT NOT NULL,        -- contact | thread | record: what from_id is
    from_id   INTEGER NOT NULL,
    record_id INTEGER NOT NULL REFERENCES record(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (kind, from_id, record_id)
);
CREATE INDEX association_by_record ON association(record_id, kind);

CREATE TABLE contact_merge (
    id        INTEGER PRIMARY KEY,
    kept_id   INTEGER NOT NULL,
    merged_id INTEGER NOT NULL,
    merged    TEXT NOT NULL,        -- JSON: the merged contact as it was, with its numbers, BSUIDs, threads, links
    agent     TEXT,
    at        INTEGER NOT NULL
);
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4_DRAFTS_AND_CLIENT_KEYS, _MEDIA_RETRY, _RECORDS)


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
