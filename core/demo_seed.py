"""Seed data for `wabox demo`: contacts, templates and about fifty threads in every state.

Inbound messages go in the way production's do, as Meta-shaped webhook bodies through `webhooks.parse` and
`ingest`, so the demo shows exactly what a real day would. Outbound history is written as the sender would
have left it (a message with its wamid), then its statuses arrive as webhooks too.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import random
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from core import webhooks
from core.ingest import ingest
from core.records import db as records
from core.store import Store, log_changes
from core.store.threads import refresh_thread_summary

HOUR = 3600


@dataclass(frozen=True, slots=True)
class DemoChannel:
    name: str
    waba_id: str
    phone_number_id: str
    display_phone_number: str


DEMO_CHANNELS = (
    DemoChannel("Bursztyn Rejsy", "402118765430099", "583920174655001", "48583201744"),
    DemoChannel("Bursztyn Sklep", "402118765430099", "583920174655002", "48583201755"),
)
OTHER_AGENTS = (("ania.k", "Sprzedaż"), ("marek", "Wsparcie"), ("ola", "Wsparcie"))

FIRST = ["Anna", "Tomasz", "Maria", "Jan", "Katarzyna", "Piotr", "Agnieszka", "Paweł", "Magdalena", "Michał",
         "Joanna", "Krzysztof", "Ewa", "Andrzej", "Zofia", "Lukas", "Sophie", "Marek", "Olga", "Igor"]
LAST = ["Kowalska", "Wiśniewski", "Nowak", "Müller", "Wójcik", "Kamiński", "Lewandowska", "Zieliński",
        "Szymańska", "Woźniak", "Dąbrowska", "Kozłowski", "Jankowska", "Mazur", "Krawczyk", "Becker",
        "Schmidt", "Piotrowski", "Grabowska", "Pawłowski"]
QUESTIONS = [
    "Dzień dobry, czy zamówienie nr {n} zostało już wysłane?",
    "Czy rejs o 14:00 w sobotę jest jeszcze dostępny dla 4 osób?",
    "Hallo, kann ich die Buchung {n} auf Sonntag verschieben?",
    "Ile kosztuje wynajem łodzi na cały dzień?",
    "Dostałam uszkodzoną paczkę, co mam zrobić?",
    "Czy mogę zapłacić przy odbiorze?",
    "Do której godziny jest czynne biuro w piątek?",
    "Zmieniłem adres dostawy, czy da się jeszcze poprawić zamówienie {n}?",
    "Dziękuję za szybką odpowiedź!",
    "Czy macie zniżki dla grup szkolnych?",
]
REPLIES = [
    "Dzień dobry! Sprawdzam i zaraz wracam z odpowiedzią.",
    "Zamówienie {n} wyszło dziś rano, numer przesyłki wyślemy mailem.",
    "Tak, mamy jeszcze miejsca. Zarezerwować?",
    "Przepraszamy za kłopot, prosimy o zdjęcie paczki.",
    "Oczywiście, zmieniłem termin.",
]
CUSTOMER_REPLIES = ["Super, dziękuję!", "OK 👍", "A jeszcze jedno pytanie…", "Świetnie, czekam.", "Danke!"]


def _wamid(rng: random.Random, wa_id: str) -> str:
    raw = b"\x18\x0b" + wa_id.encode() + b"\x15\x02\x00\x12\x18\x14" + rng.randbytes(10).hex().upper().encode()
    return "wamid." + base64.b64encode(raw).decode()


def _envelope(channel: DemoChannel, **parts: list) -> dict:
    number = {"id": channel.phone_number_id, "waba_id": channel.waba_id,
              "display_phone_number": channel.display_phone_number}
    return webhooks.envelope(number, **parts)


@dataclass
class _Customer:
    name: str
    wa_id: str
    user_id: str


class _Builder:
    """Accumulates webhook bodies and outbound rows for one demo database."""

    def __init__(self, now: int, seed: int) -> None:
        self.now = now
        self.rng = random.Random(seed)
        self.bodies: list[dict] = []
        self.outbound: list[dict] = []  # message rows the sender would have written
        self.media_files: dict[str, tuple[bytes, str]] = {}  # media id -> (bytes, mime)
        self.people: list[_Customer] = []

    def inbound(self, channel: DemoChannel, who: _Customer, at: int, kind: str, content: dict,
                context: dict | None = None) -> str:
        wamid = _wamid(self.rng, who.wa_id)
        message = {"from": who.wa_id, "from_user_id": who.user_id, "id": wamid, "timestamp": str(at),
                   "type": kind, kind: content}
        if context:
            message["context"] = context
        contact = {"profile": {"name": who.name}, "wa_id": who.wa_id, "user_id": who.user_id}
        self.bodies.append(_envelope(channel, contacts=[contact], messages=[message]))
        return wamid

    def media(self, mime: str, size: int) -> dict:
        media_id = str(self.rng.randrange(10**15, 10**16))
        data = self.rng.randbytes(size)
        self.media_files[media_id] = (data, mime)
        sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
        return {"mime_type": mime, "sha256": sha, "id": media_id}

    def outbound_text(self, channel: DemoChannel, who: _Customer, at: int, text: str, author: str,
                      statuses: tuple[str, ...] = ("sent", "delivered", "read"),
                      error: tuple[int, str, str] | None = None, kind: str = "text") -> str:
        wamid = _wamid(self.rng, who.wa_id)
        self.outbound.append({"channel": channel.phone_number_id, "wa_id": who.wa_id, "wamid": wamid,
                              "timestamp": at, "text": text, "author": author, "type": kind})
        for step, status in enumerate(statuses, start=1):
            entry: dict = {"id": wamid, "status": status, "timestamp": str(at + step * 7),
                           "recipient_id": who.wa_id}
            if status == "failed" and error:
                code, title, details = error
                entry["errors"] = [{"code": code, "title": title, "message": title,
                                    "error_data": {"details": details}}]
            self.bodies.append(_envelope(channel, statuses=[entry]))
        return wamid


def _cast(rng: random.Random, count: int) -> list[_Customer]:
    customers = []
    for i in range(count):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7 + i // len(FIRST)) % len(LAST)]  # 50 different people
        if last.endswith("a") and first[-1] not in "a":  # keep Polish surnames plausible for the men
            last = last[:-1] + "i"
        german = last in {"Müller", "Becker", "Schmidt"} or first in {"Lukas", "Sophie"}
        wa_id = (f"4915{rng.randrange(10**8, 10**9)}" if german else f"48{rng.choice('5678')}{rng.randrange(10**7, 10**8)}")
        customers.append(_Customer(f"{first} {last}", wa_id, f"{'DE' if german else 'PL'}.{rng.randrange(10**15, 10**16)}"))
    return customers


def build_demo(now: int, seed: int = 7, agent: str = "agent") -> _Builder:
    """Every state an agent meets, at fixed offsets from `now` so that sessions show all badges."""
    b = _Builder(now, seed)
    rng = b.rng
    people = _cast(rng, 50)
    b.people = people
    main, second = DEMO_CHANNELS

    def home(i: int) -> DemoChannel:  # every fifth customer writes to the second number
        return second if i % 5 == 4 else main

    for i, who in enumerate(people):
        channel = home(i)
        # Where the customer's last message lies: fresh, mid-session, closing soon, or session over.
        age = [5 * 60, 2 * HOUR, 9 * HOUR, 23 * HOUR + 20 * 60, 30 * HOUR, 3 * 24 * HOUR][i % 6] + i * 11
        start = now - age - 2 * HOUR
        n = 1040 + i
        b.inbound(channel, who, start, "text", {"body": rng.choice(QUESTIONS).format(n=n)})
        if i % 3 != 0:
            b.outbound_text(channel, who, start + 15 * 60, rng.choice(REPLIES).format(n=n),
                            author=rng.choice([agent, "ania.k", "marek"]))
        if i % 4 != 1:
            b.inbound(channel, who, now - age, "text", {"body": rng.choice(CUSTOMER_REPLIES)})

    anna, tomasz, maria, jan, kasia, piotr, aga, pawel = people[:8]
    number_of = {p.wa_id: home(i) for i, p in enumerate(people)}

    def say(who: _Customer, *args, **kwargs) -> str:  # the customer writes to the number they always use
        return b.inbound(number_of[who.wa_id], who, *args, **kwargs)

    def reply(who: _Customer, *args, **kwargs) -> str:
        return b.outbound_text(number_of[who.wa_id], who, *args, **kwargs)

    # Media of each kind, a location and a contact card.
    say(anna, now - 40 * 60, "image", {**b.media("image/jpeg", 48_213), "caption": "Tak wygląda paczka"})
    say(tomasz, now - 35 * 60, "audio", {**b.media("audio/ogg; codecs=opus", 18_400), "voice": True})
    say(maria, now - 30 * 60, "video", {**b.media("video/mp4", 912_004), "caption": "Film z rejsu"})
    say(jan, now - 25 * 60, "document",
              {**b.media("application/pdf", 131_072), "filename": "faktura-11-2026.pdf", "caption": "Faktura"})
    say(kasia, now - 20 * 60, "sticker", {**b.media("image/webp", 24_000), "animated": True})
    say(piotr, now - 18 * 60, "location",
              {"latitude": 54.3520, "longitude": 18.6466, "name": "Przystań Motława", "address": "Gdańsk"})
    say(aga, now - 16 * 60, "contacts", [{
        "name": {"formatted_name": "Ewa Mazur", "first_name": "Ewa", "last_name": "Mazur"},
        "phones": [{"phone": "+48 601 555 123", "type": "CELL", "wa_id": "48601555123"}],
        "emails": [{"email": "ewa.mazur@example.pl", "type": "WORK"}]}])
    # A reaction to our reply, and a quoted reply to it.
    ours = reply(pawel, now - 3 * HOUR, "Rejs potwierdzony na sobotę 14:00.", author=agent)
    say(pawel, now - 2 * HOUR, "reaction", {"message_id": ours, "emoji": "❤️"})
    say(pawel, now - 2 * HOUR + 60, "text", {"body": "Czy mogę dopisać jeszcze jedną osobę?"},
              context={"from": number_of[pawel.wa_id].display_phone_number, "id": ours})
    # A failed reply: sent after the window had closed.
    late = people[9]
    reply(late, now - 26 * HOUR, "Przepraszamy za zwłokę — czy sprawa aktualna?", author=agent,
                    statuses=("failed",),
                    error=(131047, "Re-engagement message",
                           "Message failed to send because more than 24 hours have passed since the customer "
                           "last replied to this number."))
    # Unsupported (a poll) and a type nobody has seen yet.
    say(people[10], now - 50 * 60, "unsupported", {"type": "poll_creation"})
    say(people[11], now - 45 * 60, "hologram", {"id": "h-1"})
    # Quarantined: a phishing link and a card number.
    say(people[12], now - 12 * 60, "text",
              {"body": "Pilne! Zweryfikuj konto: http://paypa1-login.example.xyz/verify"})
    say(people[13], now - 10 * 60, "text", {"body": "Moja karta to 4111 1111 1111 1111, exp 12/28"})
    # Hostile text: markup and escapes must show literally.
    say(people[14], now - 8 * 60, "text",
              {"body": "[bold red]PILNE[/] [@click=app.quit]kliknij[/] \x1b[31mczerwony\x1b[0m \u202eodwrócony"})
    return b


async def seed_demo(store: Store, *, now: int, agent: str, media_dir: Path, seed: int = 7) -> None:
    """Fill an empty database; safe to call once per database."""
    b = build_demo(now, seed=seed, agent=agent)
    media_dir.mkdir(parents=True, exist_ok=True)
    await store.write(_seed, b, now, agent, media_dir)


def _seed(db: sqlite3.Connection, b: _Builder, now: int, agent: str, media_dir: Path) -> None:
    channels = {c.phone_number_id for c in DEMO_CHANNELS}
    for c in DEMO_CHANNELS:
        db.execute(
            "INSERT INTO channel(phone_number_id, waba_id, name, display_phone_number, verified_name,"
            " quality_rating, messaging_limit_tier, health, updated_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (c.phone_number_id, c.waba_id, c.name, c.display_phone_number, c.name, "GREEN", "TIER_2K", "ok", now))
    db.executemany("INSERT INTO agent(name, team) VALUES (?, ?) ON CONFLICT DO NOTHING",
                   [(agent, "Wsparcie"), *OTHER_AGENTS])
    db.executemany("INSERT INTO team(name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                   [(team, now) for team in sorted({t for _, t in OTHER_AGENTS})])
    db.executemany("INSERT INTO team_member(team, agent) VALUES (?, ?) ON CONFLICT (team, agent) DO NOTHING",
                   [(team, name) for name, team in [(agent, "Wsparcie"), *OTHER_AGENTS]])
    db.execute("INSERT INTO saved_reply(owner, name, body, updated_at) VALUES ('', ?, ?, ?)"
               " ON CONFLICT (owner, name) DO NOTHING",
               ("Powitanie", "Dzień dobry {{contact.first_name}}, tu {{agent.name}} z Bursztynu. W czym mogę pomóc?",
                now))
    db.execute("INSERT INTO custom_view(name, filters, created_by, created_at) VALUES (?,?,?,?) ON CONFLICT DO NOTHING",
               ("WhatsApp", json.dumps({"source": ["whatsapp"]}), "wabox", now))
    # Anna is already a contact, her mobile typed the way people type it: auto-association must find her (F18).
    anna = b.people[0].wa_id
    contact_id = db.execute(
        "INSERT INTO contact(name, phone, mobile, email, owner, created_at) VALUES (?,?,?,?,?,?)",
        ("Anna Kowalska", "+48 58 320 17 44", f"+{anna[:2]} {anna[2:5]} {anna[5:8]} {anna[8:]}",
         "anna.kowalska@example.pl", "ania.k", now - 90 * 24 * HOUR)).lastrowid
    db.execute("INSERT INTO contact_number(contact_id, e164) VALUES (?, ?)", (contact_id, "+" + anna))
    inbound = [body for body in b.bodies if "statuses" not in body["entry"][0]["changes"][0]["value"]]
    statuses = [body for body in b.bodies if "statuses" in body["entry"][0]["changes"][0]["value"]]
    for body in inbound:
        ingest(db, webhooks.parse(body), channels=channels, now=now)
    for row in b.outbound:  # as the sender leaves them: accepted by Meta, wamid stored, statuses to come
        thread = db.execute("SELECT id FROM thread WHERE channel = ? AND wa_id = ?",
                            (row["channel"], row["wa_id"])).fetchone()
        if thread is None:
            continue
        db.execute(
            "INSERT INTO message(thread_id, channel, wamid, direction, type, text, timestamp, status, status_at,"
            " author) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (thread[0], row["channel"], row["wamid"], "out", row["type"], row["text"], row["timestamp"],
             "queued", row["timestamp"], row["author"]))
        refresh_thread_summary(db, thread[0])
    for body in statuses:
        ingest(db, webhooks.parse(body), channels=channels, now=now)
    _finish(db, b, now=now, agent=agent, media_dir=media_dir)


def _finish(db: sqlite3.Connection, b: _Builder, *, now: int, agent: str, media_dir: Path) -> None:
    """Owners, closed threads, downloaded media files, a note: the state a working team leaves behind."""
    extensions = {"image/jpeg": "jpg", "audio/ogg; codecs=opus": "ogg", "video/mp4": "mp4",
                  "application/pdf": "pdf", "image/webp": "webp"}
    threads = [row[0] for row in db.execute("SELECT id FROM thread ORDER BY id")]
    owners = [agent, None, "ania.k", None, "marek", agent, None, "ola"]
    teams = dict(OTHER_AGENTS) | {agent: "Wsparcie"}
    for i, thread_id in enumerate(threads):
        owner = owners[i % len(owners)]
        db.execute("UPDATE thread SET owner = ?, team = ? WHERE id = ?", (owner, teams.get(owner or ""), thread_id))
    # Older conversations that were dealt with are closed (their sessions are long over).
    db.execute("UPDATE thread SET status = 'closed', closed_at = ?, unread = 0 WHERE id IN"
               " (SELECT id FROM thread WHERE last_inbound_at < ? ORDER BY id LIMIT 6)", (now, now - 48 * HOUR))
    # F30: most customers opted in on the web shop; every sixth did not, so the template consent question shows.
    opted = (dt.datetime.fromtimestamp(now, dt.timezone.utc) - dt.timedelta(days=60)).date().isoformat()
    db.execute("UPDATE contact SET opt_in_source = 'web shop checkout', opt_in_date = ? WHERE id % 6 != 0", (opted,))
    for media_id, (data, mime) in b.media_files.items():
        path = media_dir / f"{hashlib.sha256(data).hexdigest()[:32]}.{extensions.get(mime, 'bin')}"
        path.write_bytes(data)
        db.execute("UPDATE message SET media_path = ?, file_size = ? WHERE media_id = ?", (str(path), len(data), media_id))
    if threads:
        db.execute("INSERT INTO message(thread_id, channel, direction, type, text, timestamp, author)"
                   " SELECT id, channel, 'out', 'note', ?, ?, ? FROM thread WHERE id = ?",
                   ("Klient VIP — proponujemy 10% rabatu.", now - 60, "ania.k", threads[0]))
    _records(db, threads, now)
    db.execute("DELETE FROM assignment_queue")  # the seeded day was triaged already: rules apply from now on
    log_changes(db, [("thread", thread_id) for thread_id in threads], at=now)


def _records(db: sqlite3.Connection, threads: list[int], now: int) -> None:
    """A few companies with their deals and a ticket, linked to the first customers and their threads (F17): what
    the records screen (C) and the context panel show."""
    contacts = [row[0] for row in db.execute("SELECT contact_id FROM thread ORDER BY id LIMIT 6")]
    plan = [("Hotel Bursztynowy Gdańsk", {"city": "Gdańsk", "industry": "hospitality"},
             ("Rejs firmowy — 40 osób", {"pipeline": "Rejsy", "stage": "contract sent", "amount": "18400"}),
             ("Zwrot zaliczki", {"status": "waiting on us", "priority": "high"})),
            ("Sklep Morski sp. z o.o.", {"city": "Sopot", "industry": "retail"},
             ("Hurtowe zamówienie bursztynu", {"pipeline": "Sklep", "stage": "qualified to buy", "amount": "5200"}),
             None)]
    for index, (company, company_props, (deal, deal_props), ticket) in enumerate(plan):
        members = contacts[index * 3:index * 3 + 3]
        company_id = records.save_record(db, "company", None, company, None, company_props, now, log=False)
        deal_id = records.save_record(db, "deal", None, deal, "ania.k", deal_props, now, log=False)
        records.associate(db, "record", deal_id, company_id, now, log=False)
        linked = [company_id, deal_id]
        if ticket is not None:
            linked.append(records.save_record(db, "ticket", None, ticket[0], "marek", ticket[1], now, log=False))
        for contact_id in members:
            for record_id in linked:
                records.associate(db, "contact", contact_id, record_id, now, log=False)
        if threads[index * 3:index * 3 + 1]:
            records.associate(db, "thread", threads[index * 3], deal_id, now, log=False)
