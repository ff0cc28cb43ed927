"""The database schema, as numbered migrations (index + 1 == PRAGMA user_version).

Append only once released. Every timestamp is UTC epoch seconds; Meta's timestamps for anything Meta sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import aiosqlite

_V1_TABLES = """
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
"""
_V1_SEARCH = """
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

_V1 = _V1_TABLES + _V1_SEARCH

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
_V3_SEARCH = f"""
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
"""
_V3_REST = """
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
_V3 = _V3_SEARCH + _V3_REST

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

# Issue 10: a team's shift. Agents are real (availability, capacity, disabled) and belong to teams; each assignment
# is recorded; read state is per agent (`seen`: the thread's inbound count when that agent last read it, so their
# unread is t.unread - seen); presence (viewing / typing) expires by itself; saved replies ('' = shared); snooze;
# activity events shown inline; mentions in notes. New and reopened threads wait in `assignment_queue` (filled by
# the triggers below, whoever writes the thread) until `wabox serve` applies the [[assignment]] rules it copied to
# `assignment_rule`.
_TEAM = """
ALTER TABLE agent ADD COLUMN display_name TEXT;
ALTER TABLE agent ADD COLUMN status TEXT NOT NULL DEFAULT 'available';   -- available | away | offline
ALTER TABLE agent ADD COLUMN capacity INTEGER NOT NULL DEFAULT 20;       -- open threads at most (auto-assignment)
ALTER TABLE agent ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
CREATE TABLE team (
    name       TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
);
CREATE TABLE team_member (
    team  TEXT NOT NULL REFERENCES team(name) ON DELETE CASCADE,
    agent TEXT NOT NULL REFERENCES agent(name) ON DELETE CASCADE,
    PRIMARY KEY (team, agent)
);
INSERT INTO team(name, created_at) SELECT DISTINCT team, 0 FROM agent WHERE team IS NOT NULL AND team != '';
INSERT INTO team_member(team, agent) SELECT team, name FROM agent WHERE team IS NOT NULL AND team != '';

CREATE TABLE assignment (
    id        INTEGER PRIMARY KEY,
    thread_id INTEGER NOT NULL REFERENCES thread(id) ON DELETE CASCADE,
    owner     TEXT,
    team      TEXT,
    by_agent  TEXT,          -- who assigned it (NULL: a rule did)
    rule      TEXT,          -- the rule that did ("channel 5839… -> Wsparcie"), or NULL
    at        INTEGER NOT NULL
);
CREATE INDEX assignment_by_thread ON assignment(thread_id, id);
CREATE TABLE assignment_rule (
    position INTEGER PRIMARY KEY,
    channel  TEXT,
    view     TEXT,
    team     TEXT NOT NULL
);
CREATE TABLE assignment_queue (
    thread_id INTEGER PRIMARY KEY REFERENCES thread(id) ON DELETE CASCADE,
    reason    TEXT NOT NULL,   -- new | reopened | returned
    since     INTEGER NOT NULL
);

CREATE TABLE thread_read (
    agent     TEXT NOT NULL,
    thread_id INTEGER NOT NULL REFERENCES thread(id) ON DELETE CASCADE,
    seen      INTEGER NOT NULL,
    PRIMARY KEY (agent, thread_id)
);

CREATE TABLE presence (
    agent         TEXT PRIMARY KEY,
    thread_id     INTEGER,
    viewing_until INTEGER NOT NULL DEFAULT 0,
    typing_until  INTEGER NOT NULL DEFAULT 0,
    typing_since  INTEGER
);

CREATE TABLE saved_reply (
    id         INTEGER PRIMARY KEY,
    owner      TEXT NOT NULL DEFAULT '',   -- '' = shared with everyone, else the agent it belongs to
    name       TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (owner, name)
);

CREATE TABLE activity (
    id        INTEGER PRIMARY KEY,
    thread_id INTEGER NOT NULL REFERENCES thread(id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,   -- assigned | closed | reopened | snoozed | woke | note
    agent     TEXT,            -- who did it (NULL: wabox itself)
    detail    TEXT NOT NULL DEFAULT '',
    at        INTEGER NOT NULL
);
CREATE INDEX activity_by_thread ON activity(thread_id, at, id);

-- Snoozed: hidden from the open views until snoozed_until (a far-off time when only the customer's reply wakes it).
ALTER TABLE thread ADD COLUMN snoozed_until INTEGER;
ALTER TABLE thread ADD COLUMN snoozed_for_reply INTEGER NOT NULL DEFAULT 0;
CREATE INDEX thread_snoozed ON thread(snoozed_until) WHERE snoozed_until IS NOT NULL;
-- The open views leave snoozed threads out: (status, snoozed_until) keeps their counts on the index alone.
CREATE INDEX thread_by_snooze ON thread(status, snoozed_until);

CREATE TABLE mention (
    id         INTEGER PRIMARY KEY,
    agent      TEXT NOT NULL,
    thread_id  INTEGER NOT NULL REFERENCES thread(id) ON DELETE CASCADE,
    message_id INTEGER NOT NULL,
    by_agent   TEXT,
    at         INTEGER NOT NULL
);
CREATE INDEX mention_by_agent ON mention(agent, id);
CREATE UNIQUE INDEX mention_once ON mention(message_id, agent);
"""
_TEAM_TRIGGERS = """
CREATE TRIGGER thread_queued_new AFTER INSERT ON thread BEGIN
    INSERT INTO assignment_queue(thread_id, reason, since) VALUES (new.id, 'new', new.created_at)
    ON CONFLICT (thread_id) DO NOTHING;
END;
CREATE TRIGGER thread_queued_reopened AFTER UPDATE OF status ON thread
WHEN old.status = 'closed' AND new.status = 'open' BEGIN
    INSERT INTO assignment_queue(thread_id, reason, since) VALUES (new.id, 'reopened', coalesce(new.last_message_at, 0))
    ON CONFLICT (thread_id) DO NOTHING;
END;
CREATE TRIGGER thread_woken_by_reply AFTER INSERT ON message
WHEN new.direction = 'in' AND new.type != 'reaction' BEGIN
    INSERT INTO activity(thread_id, kind, agent, detail, at)
    SELECT id, 'woke', NULL, 'the customer wrote', new.timestamp FROM thread
    WHERE id = new.thread_id AND snoozed_until IS NOT NULL;
    UPDATE thread SET snoozed_until = NULL, snoozed_for_reply = 0
    WHERE id = new.thread_id AND snoozed_until IS NOT NULL;
END;
"""


# The same three triggers in PostgreSQL's form (a function each).
_PG_TEAM_TRIGGERS = """
CREATE FUNCTION wabox_thread_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO assignment_queue(thread_id, reason, since) VALUES (NEW.id, 'new', NEW.created_at)
        ON CONFLICT (thread_id) DO NOTHING;
    ELSIF OLD.status = 'closed' AND NEW.status = 'open' THEN
        INSERT INTO assignment_queue(thread_id, reason, since)
        VALUES (NEW.id, 'reopened', coalesce(NEW.last_message_at, 0))
        ON CONFLICT (thread_id) DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER thread_queued_new AFTER INSERT ON thread FOR EACH ROW EXECUTE FUNCTION wabox_thread_queued();
CREATE TRIGGER thread_queued_reopened AFTER UPDATE OF status ON thread FOR EACH ROW
    EXECUTE FUNCTION wabox_thread_queued();
CREATE FUNCTION wabox_thread_woken_by_reply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO activity(thread_id, kind, agent, detail, at)
    SELECT id, 'woke', NULL, 'the customer wrote', NEW.timestamp FROM thread
    WHERE id = NEW.thread_id AND snoozed_until IS NOT NULL;
    UPDATE thread SET snoozed_until = NULL, snoozed_for_reply = 0
    WHERE id = NEW.thread_id AND snoozed_until IS NOT NULL;
    RETURN NULL;
END
$$;
CREATE TRIGGER thread_woken_by_reply AFTER INSERT ON message FOR EACH ROW
    WHEN (NEW.direction = 'in' AND NEW.type != 'reaction') EXECUTE FUNCTION wabox_thread_woken_by_reply();
"""
# Per-number pacing shared by every sender (core.outbox.Pacer): two `wabox serve` on one number together keep to
# the configured rate. `next_at` is the epoch second (a fraction) of the number's next free send slot.
_SEND_PACE = """
CREATE TABLE send_pace (
    channel TEXT PRIMARY KEY,
    next_at REAL NOT NULL
);
"""

# --- PostgreSQL: what SQLite's FTS5 tables and triggers do, as expression indexes -----------------------------
# Search folds as the SQLite index does: FOLDS, then unaccent (FTS5's remove_diacritics), lower case, and every
# run of characters that are not letters or digits is one separator (unicode61's tokens). Terms are matched as
# whole words, the last one as a prefix, all of them required: the same threads as on SQLite.
_PG_SEARCH = f"""
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE FUNCTION wabox_fold(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT trim(regexp_replace(lower(unaccent('unaccent', {_folded('$1')})), '[^[:alnum:]]+', ' ', 'g'))
$$;
CREATE FUNCTION wabox_contact_text(name text, phone text, mobile text, wa_id text, e164 text, email text)
    RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT wabox_fold(coalesce(name, '') || ' ' || coalesce(phone, '') || ' ' || coalesce(mobile, '') || ' ' ||
                      coalesce(wa_id, '') || ' ' || coalesce(e164, '') || ' ' || coalesce(email, ''))
$$;
-- The search terms, one a line, as a tsquery: each term a phrase of its words, the last word of the last a prefix.
CREATE FUNCTION wabox_tsquery(terms text) RETURNS tsquery LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_tsquery('simple', coalesce(string_agg(
        '(' || replace(f, ' ', ' <-> ') || CASE WHEN n = last THEN ':*' ELSE '' END || ')', ' & ' ORDER BY n), ''))
    FROM (SELECT wabox_fold(t) AS f, n, count(*) OVER () AS last
          FROM unnest(string_to_array(terms, E'\\n')) WITH ORDINALITY AS u(t, n)) s
    WHERE f <> ''
$$;
-- Stored, not only indexed: a common word is checked message by message on the threads walked newest first
-- (views.search_clause's EXISTS shape), and folding each message again there took seconds at 1M messages.
ALTER TABLE message ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', wabox_fold(text))) STORED;
CREATE INDEX message_search ON message USING gin (search);
ALTER TABLE contact ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', wabox_contact_text(name, phone, mobile, wa_id, e164, email))) STORED;
CREATE INDEX contact_search ON contact USING gin (search);
"""

# Live updates: every change_log insert wakes the inboxes that LISTEN (core.store.pg.Listener), on any host.
_PG_NOTIFY = """
CREATE FUNCTION wabox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wabox_changes', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER change_log_notify AFTER INSERT ON change_log FOR EACH STATEMENT EXECUTE FUNCTION wabox_notify();
"""


@dataclass(frozen=True)
class Migration:
    """A step whose SQL differs per backend. A plain string in MIGRATIONS is portable SQL: it runs as written on
    SQLite and through pg_ddl() on PostgreSQL."""

    sqlite: str
    postgresql: str


_PG_TYPES = ((re.compile(r"\bINTEGER PRIMARY KEY( AUTOINCREMENT)?", re.I),
              "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
             (re.compile(r"\bINTEGER\b", re.I), "BIGINT"),
             (re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"),
             (re.compile(r"\bBLOB\b", re.I), "BYTEA"),
             (re.compile(r"\bINSERT OR IGNORE INTO([^;]*);", re.I), r"INSERT INTO\1 ON CONFLICT DO NOTHING;"))


def pg_ddl(script: str) -> str:
    """SQLite DDL as PostgreSQL's: integer ids become identities, INTEGER is 64-bit, REAL double, BLOB bytea."""
    if re.search(r"\bPRAGMA\b|\bINSERT OR REPLACE\b|\bVIRTUAL TABLE\b|\bCREATE TRIGGER\b", script, re.I):
        raise ValueError("not portable: write this migration as Migration(sqlite=..., postgresql=...)")
    for pattern, replacement in _PG_TYPES:
        script = pattern.sub(replacement, script)
    return script


def script_for(step: str | Migration, backend: str) -> str:
    if isinstance(step, Migration):
        return step.sqlite if backend == "sqlite" else step.postgresql
    return step if backend == "sqlite" else pg_ddl(step)


# Issue 12: what the sidebar and the list's title count, and phone-number search, answered from small tables the
# triggers keep instead of a pass over every thread (those grew linearly: 28 ms at 100k threads, 85 ms at 300k).
# thread_tally: one row per combination of the columns a view filters on (core.views.where), with its thread count;
# a view's count is the sum of the rows its WHERE clause keeps. Its `snoozed_until` is only 1 (snoozed), 0 or NULL,
# which is all the views ask of it ("> 0", "IS NULL"). Unread is per agent (thread_read), so it is not tallied.
# thread_digits: every tail (4 digits or more) of a thread's wa_id, so "digits anywhere in the number" is a range on
# an index (tail >= d AND tail < d || ':').
_TALLY_COLUMNS = ("status", "last_direction", "owner", "team", "channel", "has_attachment", "snoozed_until")


def _tally_value(row: str, column: str) -> str:
    if column == "snoozed_until":
        return (f"CASE WHEN {row}.snoozed_until > 0 THEN 1 WHEN {row}.snoozed_until IS NULL THEN NULL ELSE 0 END")
    return f"{row}.{column}"


def _same_group(row: str, same: str) -> str:
    """The tally row of the thread `row` (new/old) in a trigger; `same` is the dialect's null-safe equality."""
    return " AND ".join(f"{column} {same} {_tally_value(row, column)}" for column in _TALLY_COLUMNS)


def _tally_row(row: str) -> str:
    return ", ".join(_tally_value(row, column) for column in _TALLY_COLUMNS)


def _changed(same_not: str) -> str:
    return " OR ".join(f"{_tally_value('old', c)} {same_not} {_tally_value('new', c)}" for c in _TALLY_COLUMNS)


_PERF_TABLES = f"""
CREATE TABLE thread_tally (
    status         TEXT,
    last_direction TEXT,
    owner          TEXT,
    team           TEXT,
    channel        TEXT,
    has_attachment INTEGER,
    snoozed_until  INTEGER,   -- 1 snoozed, NULL not (see above)
    n              INTEGER NOT NULL
);
CREATE INDEX thread_tally_by_group ON thread_tally(status, owner, channel, last_direction, team);
INSERT INTO thread_tally({", ".join(_TALLY_COLUMNS)}, n)
    SELECT {_tally_row('t')}, count(*) FROM thread t GROUP BY {_tally_row('t')};

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
    SELECT substr(t.wa_id, CAST(p.k AS INT)), t.id FROM thread t JOIN digit_position p ON p.k <= length(t.wa_id) - 3
    WHERE t.wa_id IS NOT NULL;
"""

_TALLY_ADD = f"""INSERT INTO thread_tally({", ".join(_TALLY_COLUMNS)}, n)
        SELECT {_tally_row('new')}, 0 WHERE NOT EXISTS (SELECT 1 FROM thread_tally WHERE {{same_new}});
    UPDATE thread_tally SET n = n + 1 WHERE {{same_new}};"""

_PERF_TRIGGERS = f"""
CREATE TRIGGER thread_tally_ai AFTER INSERT ON thread BEGIN
    {_TALLY_ADD.format(same_new=_same_group('new', 'IS'))}
END;
CREATE TRIGGER thread_tally_ad AFTER DELETE ON thread BEGIN
    UPDATE thread_tally SET n = n - 1 WHERE {_same_group('old', 'IS')};
END;
CREATE TRIGGER thread_tally_au AFTER UPDATE OF {", ".join(_TALLY_COLUMNS)} ON thread
WHEN {_changed('IS NOT')}
BEGIN
    UPDATE thread_tally SET n = n - 1 WHERE {_same_group('old', 'IS')};
    {_TALLY_ADD.format(same_new=_same_group('new', 'IS'))}
END;
CREATE TRIGGER thread_digits_ai AFTER INSERT ON thread WHEN new.wa_id IS NOT NULL BEGIN
    INSERT INTO thread_digits(tail, thread_id)
        SELECT substr(new.wa_id, CAST(k AS INT)), new.id FROM digit_position WHERE k <= length(new.wa_id) - 3;
END;
CREATE TRIGGER thread_digits_au AFTER UPDATE OF wa_id ON thread WHEN old.wa_id IS NOT new.wa_id BEGIN
    DELETE FROM thread_digits WHERE thread_id = old.id;
    INSERT INTO thread_digits(tail, thread_id)
        SELECT substr(new.wa_id, CAST(k AS INT)), new.id FROM digit_position WHERE k <= length(new.wa_id) - 3
        AND new.wa_id IS NOT NULL;
END;
CREATE TRIGGER thread_digits_ad AFTER DELETE ON thread BEGIN
    DELETE FROM thread_digits WHERE thread_id = old.id;
END;
"""

# The same triggers in PostgreSQL's form (a function each; writers hold one advisory lock, so the tally's
# insert-if-missing cannot race).
_PG_PERF_TRIGGERS = f"""
CREATE FUNCTION wabox_thread_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE thread_tally SET n = n - 1 WHERE {_same_group('OLD', 'IS NOT DISTINCT FROM')};
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        {_TALLY_ADD.format(same_new=_same_group('NEW', 'IS NOT DISTINCT FROM')).replace('new.', 'NEW.')}
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER thread_tally_aid AFTER INSERT OR DELETE ON thread FOR EACH ROW EXECUTE FUNCTION wabox_thread_tally();
CREATE TRIGGER thread_tally_au AFTER UPDATE OF {", ".join(_TALLY_COLUMNS)} ON thread FOR EACH ROW
    WHEN ({_changed('IS DISTINCT FROM').replace('old.', 'OLD.').replace('new.', 'NEW.')})
    EXECUTE FUNCTION wabox_thread_tally();
CREATE FUNCTION wabox_thread_digits() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM thread_digits WHERE thread_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.wa_id IS NOT NULL THEN
        INSERT INTO thread_digits(tail, thread_id)
            SELECT substr(NEW.wa_id, CAST(k AS INT)), NEW.id FROM digit_position WHERE k <= length(NEW.wa_id) - 3;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER thread_digits_aid AFTER INSERT OR DELETE ON thread FOR EACH ROW EXECUTE FUNCTION wabox_thread_digits();
CREATE TRIGGER thread_digits_au AFTER UPDATE OF wa_id ON thread FOR EACH ROW
    WHEN (OLD.wa_id IS DISTINCT FROM NEW.wa_id) EXECUTE FUNCTION wabox_thread_digits();
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
_RECORDS_SEARCH = """
-- What search finds a contact or a record by beyond contact_fts: every property, the owner, numbers as digits.
CREATE VIRTUAL TABLE contact_props_fts USING fts5(text);
CREATE VIRTUAL TABLE record_fts USING fts5(text);
"""
# On PostgreSQL the same text per row (same names, so core.records writes them once), searched as messages and
# contacts are (_PG_SEARCH): a stored tsvector of the folded text on a GIN index.
_PG_RECORDS_SEARCH = """
CREATE TABLE contact_props_fts (rowid BIGINT PRIMARY KEY, text TEXT NOT NULL,
    search tsvector GENERATED ALWAYS AS (to_tsvector('simple', wabox_fold(text))) STORED);
CREATE INDEX contact_props_search ON contact_props_fts USING gin (search);
CREATE TABLE record_fts (rowid BIGINT PRIMARY KEY, text TEXT NOT NULL,
    search tsvector GENERATED ALWAYS AS (to_tsvector('simple', wabox_fold(text))) STORED);
CREATE INDEX record_search ON record_fts USING gin (search);
"""

# Issue 12: the "Sent" view (open, last message ours) read its first page along thread_by_status, skipping every
# thread whose last message was the customer's: 15 ms at 300k threads against 1.5 ms at 100k. By direction too, the
# page is read straight off the index (1 ms at either size).
_SENT_VIEW = """
CREATE INDEX thread_by_direction ON thread(status, last_direction, last_message_at DESC);
"""

# Issue 12: FTS5 writes its pending terms out as a new segment at every statement savepoint, and a trigger gives every
# INSERT one, so each message written through message_fts_ai cost a segment and its merges (~25 us of ~70). While
# message_fts_later holds a row (only ever inside the receiver's batch transaction, never committed: see
# core.ingest.SearchLater) the trigger leaves new messages to one INSERT ... SELECT for the whole batch. PostgreSQL's
# index is a generated column: nothing to defer there.
MESSAGE_FTS_TEXT = _folded("text")
_SEARCH_IN_BATCHES = f"""
CREATE TABLE message_fts_later (id INTEGER PRIMARY KEY);
DROP TRIGGER message_fts_ai;
CREATE TRIGGER message_fts_ai AFTER INSERT ON message WHEN NOT EXISTS (SELECT 1 FROM message_fts_later) BEGIN
    INSERT INTO message_fts(rowid, text) VALUES (new.id, {_folded('new.text')});
END;
"""

# To add a step: append a NEW constant (never edit one released). Portable SQL (CREATE TABLE with INTEGER PRIMARY
# KEY, ON CONFLICT, partial indexes, ALTER TABLE ADD COLUMN) is a plain string; only SQL that cannot be
# portable (FTS5, triggers) is a Migration with a text per backend.
MIGRATIONS: tuple[str | Migration, ...] = (
    # SQLite keeps a fraction in an INTEGER column; the outbox's backoff (a float) needs a column that does too.
    Migration(_V1, pg_ddl(_V1_TABLES.replace("next_attempt_at INTEGER", "next_attempt_at REAL")) + _PG_NOTIFY),
    _V2,
    Migration(_V3, _PG_SEARCH + pg_ddl(_V3_REST)),
    _V4_DRAFTS_AND_CLIENT_KEYS,
    _MEDIA_RETRY,
    _SEND_PACE,
    Migration(_TEAM + _TEAM_TRIGGERS, pg_ddl(_TEAM) + _PG_TEAM_TRIGGERS),
    Migration(_PERF_TABLES + _PERF_TRIGGERS, pg_ddl(_PERF_TABLES) + _PG_PERF_TRIGGERS),
    Migration(_RECORDS + _RECORDS_SEARCH, pg_ddl(_RECORDS) + _PG_RECORDS_SEARCH),
    _SENT_VIEW,
    Migration(_SEARCH_IN_BATCHES, "SELECT 1  -- the message index is a generated column: nothing to defer"),
)


async def migrate(db: aiosqlite.Connection) -> None:
    """Bring the database up to date; each migration commits together with its number, or not at all.
    Processes starting at once (two `wabox serve`) each try the next step: one applies it, and the other, failing
    on what it already finds there, sees the number moved on and goes on from it."""
    while (version := await _user_version(db)) < len(MIGRATIONS):
        try:
            await db.executescript(f"BEGIN IMMEDIATE; {script_for(MIGRATIONS[version], 'sqlite')};"
                                   f" PRAGMA user_version = {version + 1}; COMMIT;")
        except Exception:
            if db.in_transaction:
                await db.execute("ROLLBACK")
            if await _user_version(db) > version:
                continue
            raise


async def _user_version(db: aiosqlite.Connection) -> int:
    [(version,)] = await db.execute_fetchall("PRAGMA user_version")
    return version
