"""The simulated world behind the Cloud API stand-in: numbers, templates, media, customers' windows, what was sent.

Everything Meta would know and decide lives here, so that the HTTP layer (graph.py) stays a thin translation.
"""

from __future__ import annotations

import base64
import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

SESSION = 24 * 3600
MEDIA_URL_TTL = 300
REACTION_MAX_AGE = 30 * 86400  # also how far back mark-as-read reaches

DEFAULT_NUMBERS = [
    {"id": "209837465112233", "waba_id": "310492887654321", "display_phone_number": "48221234567",
     "verified_name": "Ogrody Kowalski"},
    {"id": "209837465998877", "waba_id": "310492887654321", "display_phone_number": "48227654321",
     "verified_name": "Ogrody Kowalski Serwis"},
]


def _template(tid: str, name: str, language: str, status: str, category: str, body: str, *, header: str | None = None,
              footer: str | None = None, buttons: list[str] | None = None, fmt: str = "POSITIONAL",
              reason: str | None = None) -> dict:
    components: list[dict] = []
    if header:
        components.append({"type": "HEADER", "format": "TEXT", "text": header})
    components.append({"type": "BODY", "text": body})
    if footer:
        components.append({"type": "FOOTER", "text": footer})
    if buttons:
        components.append({"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": b} for b in buttons]})
    item = {"id": tid, "name": name, "language": language, "status": status, "category": category,
            "parameter_format": fmt, "components": components}
    if reason:
        item["rejected_reason"] = reason
    return item


DEFAULT_TEMPLATES = [
    _template("1625063511800527", "order_update", "pl_PL", "APPROVED", "UTILITY",
              "Cześć {{1}}, Twoje zamówienie {{2}} jest gotowe do odbioru.", header="Zamówienie",
              footer="Odpowiedz STOP, aby zrezygnować", buttons=["Odbiorę jutro"]),
    _template("1625063511800528", "order_update", "en_US", "APPROVED", "UTILITY",
              "Hi {{1}}, your order {{2}} is ready for pickup."),
    _template("1625063511800529", "follow_up", "pl_PL", "APPROVED", "UTILITY",
              "Dzień dobry {{1}}, wracamy do Twojej wiadomości. Czy możemy jeszcze w czymś pomóc?"),
    _template("1625063511800530", "booking_reminder", "pl_PL", "APPROVED", "UTILITY",
              "Przypominamy o rejsie {{date}} o godzinie {{time}}. Do zobaczenia na przystani!", fmt="NAMED"),
    _template("1625063511800531", "hello", "pl_PL", "APPROVED", "MARKETING",
              "Dzień dobry! Dziękujemy za kontakt z nami."),
    _template("1625063511800532", "spring_sale", "pl_PL", "PENDING", "MARKETING",
              "Wiosenna wyprzedaż: {{1}} taniej do niedzieli!"),
    _template("1625063511800533", "win_a_prize", "pl_PL", "REJECTED", "MARKETING",
              "Wygrałeś nagrodę! Kliknij {{1}}", reason="PROMOTIONAL"),
]

CAST = [("Anna Kowalska", "48601234567"), ("Tomasz Wiśniewski", "48512345678"), ("Maria Nowak", "48698765432"),
        ("Jan Müller", "4915112345678"), ("Zofia Wójcik", "48602111222"), ("Piotr Zieliński", "48603445566"),
        ("Lukas Becker", "4917612345678"), ("Ewa Mazur", "48601555123")]
OPENERS = ["Dzień dobry, mam pytanie o zamówienie.", "Czy rejs w sobotę jest aktualny?",
           "Hallo, ist meine Bestellung schon unterwegs?", "Ile kosztuje dostawa do Gdyni?",
           "Czy mogę zmienić godzinę odbioru?", "Paczka przyszła uszkodzona 😕"]
ANSWERS = ["Dziękuję!", "Super, to czekam.", "OK 👍", "A jeszcze jedno: czy mogę zapłacić kartą?",
           "Danke schön!", "Rozumiem, dziękuję za informację."]


@dataclass
class Faults:
    """Error rates per outcome ("500", "429", "hang", "400", or a Graph code like "131000"), and latency."""

    rates: dict[str, float] = field(default_factory=dict)
    latency: float = 0.0
    hang_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class KnownMessage:
    """A message Meta carried on a number: what mark-as-read and reactions may point at."""

    phone_number_id: str
    wa_id: str
    direction: str  # in | out
    type: str
    at: float


@dataclass
class StoredMedia:
    id: str
    data: bytes
    mime_type: str
    phone_number_id: str
    created: float

    @property
    def sha256_b64(self) -> str:
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode()


class World:
    def __init__(self, *, clock: Callable[[], float] = time.time, seed: int = 0,
                 phone_numbers: list[dict] | None = None, templates: list[dict] | None = None,
                 status_delays: tuple[float, float, float] = (0.05, 0.3, 1.0)) -> None:
        self.clock = clock
        self.rng = random.Random(seed)
        self.numbers = {n["id"]: {"waba_id": n.get("waba_id", "310492887654321"), "quality_rating": "GREEN",
                                  "status": "CONNECTED", "tier": "TIER_2K", "platform_type": "CLOUD_API", **n}
                        for n in (phone_numbers or DEFAULT_NUMBERS)}
        self.templates = list(templates if templates is not None else DEFAULT_TEMPLATES)
        self.media: dict[str, StoredMedia] = {}
        self.media_urls: dict[str, tuple[str, float]] = {}  # token in URL -> (media id, expiry)
        self.last_inbound: dict[tuple[str, str], float] = {}  # (phone_number_id, wa_id) -> customer's last message
        self.names: dict[str, str] = dict((wa, name) for name, wa in CAST)
        self.outbound: list[dict] = []
        self.faults = Faults()
        self.not_on_whatsapp: set[str] = set()
        self.read_receipts_off: set[str] = {"48698765432"}  # Maria has read receipts off
        self.status_delays = status_delays
        self.customers_enabled = False
        self.customer_interval = 20.0
        self.messages: dict[str, KnownMessage] = {}  # wamid -> what it was
        self.users: dict[str, str] = {}  # BSUID -> wa_id, for every BSUID the simulator has handed out
        for _, wa_id in CAST:
            self.bsuid(wa_id)

    # --- ids ---------------------------------------------------------------------------------------------

    def wamid(self, wa_id: str) -> str:
        raw = b"\x18\x0b" + wa_id.encode() + b"\x15\x02\x00\x11\x18\x12" + self.rng.randbytes(9).hex().upper().encode()
        return "wamid." + base64.b64encode(raw).decode()

    def new_id(self) -> str:
        return str(self.rng.randrange(10**15, 10**16))

    def bsuid(self, wa_id: str) -> str:
        digits = int(hashlib.sha256(wa_id.encode()).hexdigest()[:14], 16) % 10**16
        user_id = f"{'DE' if wa_id.startswith('49') else 'PL'}.{digits:016d}"
        self.users[user_id] = wa_id
        return user_id

    def remember(self, wamid: str, phone_number_id: str, wa_id: str, direction: str, kind: str) -> None:
        self.messages[wamid] = KnownMessage(phone_number_id, wa_id, direction, kind, self.clock())

    def can_react_to(self, wamid: str, phone_number_id: str, wa_id: str) -> bool:
        """Meta refuses (by a failed status, 131009) a reaction to a missing message, one older than 30 days, one
        in another chat, or another reaction (reference §2.6)."""
        known = self.messages.get(wamid)
        return (known is not None and known.phone_number_id == phone_number_id and known.wa_id == wa_id
                and known.type != "reaction" and known.at >= self.clock() - REACTION_MAX_AGE)

    # --- rules -------------------------------------------------------------------------------------------

    def window_open(self, phone_number_id: str, wa_id: str) -> bool:
        last = self.last_inbound.get((phone_number_id, wa_id))
        return last is not None and self.clock() < last + SESSION

    def template(self, name: str, language: str) -> dict | None:
        for t in self.templates:
            if t["name"] == name and t["language"] == language:
                return t
        return None

    def pick_fault(self) -> str | None:
        roll = self.rng.random()
        for outcome, rate in self.faults.rates.items():
            if roll < rate:
                return outcome
            roll -= rate
        return None

    # --- media -------------------------------------------------------------------------------------------

    def store_media(self, data: bytes, mime_type: str, phone_number_id: str) -> StoredMedia:
        item = StoredMedia(self.new_id(), data, mime_type, phone_number_id, self.clock())
        self.media[item.id] = item
        return item

    def media_url(self, base_url: str, media_id: str) -> str:
        token = self.rng.randbytes(12).hex()
        self.media_urls[token] = (media_id, self.clock() + MEDIA_URL_TTL)
        return f"{base_url}/_media/{token}?mid={media_id}"
