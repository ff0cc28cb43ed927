"""Record properties and their types (F17): every value typed by an agent or read from a CSV cell is checked and
normalised here, so the database holds one spelling of each value and an export reads back as it was imported.

Types: text, number, date (ISO yyyy-mm-dd), enum (one of the options), phone (kept as written, must be a valid
number), email. Values are stored as strings; "" means unset.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import phonenumbers

from core import phones

TYPES = ("text", "number", "date", "enum", "phone", "email")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%Y/%m/%d")
MAX_TEXT = 2000


class PropertyError(ValueError):
    """A value that does not fit its property; the message names the property and says why."""


@dataclass(frozen=True)
class Property:
    name: str
    type: str = "text"
    options: tuple[str, ...] = ()
    label: str = ""

    def to_json(self) -> dict:
        return {"name": self.name, "type": self.type, "options": list(self.options), "label": self.label}

    @classmethod
    def from_json(cls, data: dict) -> "Property":
        return cls(data["name"], data.get("type", "text"), tuple(data.get("options", ())), data.get("label", ""))

    @classmethod
    def parse(cls, spec: str) -> "Property":
        """`name:type[:option|option…]` as given on the command line (`tier:enum:gold|silver`)."""
        name, _, rest = spec.partition(":")
        kind, _, options = rest.partition(":")
        kind = kind or "text"
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", name or ""):
            raise PropertyError(f"property name {name!r}: use lower-case letters, digits and _")
        if kind not in TYPES:
            raise PropertyError(f"property {name}: type {kind!r} is not one of {', '.join(TYPES)}")
        choices = tuple(o.strip() for o in options.split("|") if o.strip())
        if kind == "enum" and not choices:
            raise PropertyError(f"property {name}: an enum needs its options (name:enum:a|b|c)")
        return cls(name, kind, choices)


@dataclass(frozen=True)
class ObjectType:
    """A kind of record: the built-in company, deal and ticket, or one an admin defined."""

    name: str
    label: str
    properties: tuple[Property, ...] = field(default=())

    def property(self, name: str) -> Property | None:
        return next((p for p in self.properties if p.name == name), None)


def normalise(prop: Property, raw: str | None, *, region: str | None = None) -> str:
    """The stored form of `raw` for `prop`, or PropertyError saying why it does not fit."""
    text = (raw or "").strip()
    if not text:
        return ""
    if len(text) > MAX_TEXT:
        raise PropertyError(f"{prop.name}: longer than {MAX_TEXT} characters")
    if prop.type == "number":
        try:
            number = Decimal(text.replace(" ", "").replace(",", "."))
        except InvalidOperation:
            raise PropertyError(f"{prop.name}: {text!r} is not a number") from None
        if not number.is_finite():
            raise PropertyError(f"{prop.name}: {text!r} is not a number")
        return format(number.normalize(), "f") if number != number.to_integral() else str(int(number))
    if prop.type == "date":
        for form in _DATE_FORMATS:
            try:
                return dt.datetime.strptime(text, form).date().isoformat()
            except ValueError:
                continue
        raise PropertyError(f"{prop.name}: unparseable date {text!r} (write it as 2025-03-31)")
    if prop.type == "enum":
        for option in prop.options:
            if option.casefold() == text.casefold():
                return option
        raise PropertyError(f"{prop.name}: unknown value {text!r} (one of: {', '.join(prop.options)})")
    if prop.type == "phone":
        if number_info(text, region) is None:
            raise PropertyError(f"{prop.name}: bad phone {text!r} (write it with its country code, e.g. +48 601 234 567)")
        return text
    if prop.type == "email":
        if not _EMAIL.match(text):
            raise PropertyError(f"{prop.name}: bad email {text!r}")
        return text.lower()
    return text


@dataclass(frozen=True)
class NumberInfo:
    e164: str
    national: str                # the digits people dial at home: what a search for "601234567" finds
    keys: frozenset[str]         # every E.164 form an inbound wa_id may arrive as (see match_keys)


@functools.lru_cache(maxsize=16384)
def number_info(raw: str | None, region: str | None = None) -> NumberInfo | None:
    """One check per number, however many times an import row or an edit needs it."""
    return _international_info(raw) or _parsed_info(raw, region)


def _parsed_info(raw: str | None, region: str | None) -> NumberInfo | None:
    """phonenumbers' full parse (~30 µs): any spelling, a national number with `region`, a WhatsApp id."""
    number = phones.parse_valid(raw, region) or phones.parse_valid(_as_whatsapp_id(raw or ""))
    if number is None:
        return None
    return _info(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
                 str(number.national_number))


def _info(e164: str, national: str) -> NumberInfo:
    keys = {e164}
    if e164.startswith(("+52", "+55")):  # the only countries whose WhatsApp ids differ from E.164
        keys |= phones.candidate_e164s(e164[1:])
    return NumberInfo(e164, national, frozenset(keys))


_INTERNATIONAL = re.compile(r"\+[1-9][\d \-]*\d")


def _international_info(raw: str | None) -> NumberInfo | None:
    """The fast path for a number already written internationally ("+48 601 234 567", as CRM exports write them):
    the same validity phonenumbers decides — its own metadata patterns for the country — without its general
    parser, a few µs instead of ~30. None when it cannot say "valid" for certain (several regions share the code,
    a national prefix or a leading 0 the parser would treat, or not valid): the full parse decides then."""
    text = (raw or "").strip()
    if not _INTERNATIONAL.fullmatch(text):
        return None
    digits = text[1:].replace(" ", "").replace("-", "")
    for size in (1, 2, 3):
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(digits[:size]))
        if regions:
            break
    else:
        return None
    national = digits[size:]
    if len(regions) != 1 or not 2 <= len(national) <= 17 or national.startswith("0"):
        return None
    patterns = _region_patterns(regions[0])
    if patterns is None:
        return None
    prefix, general, types = patterns
    if prefix is not None and prefix.match(national):
        return None
    if not _matches(general, national) or not any(_matches(t, national) for t in types):
        return None
    return _info(f"+{digits}", national)


_Pattern = tuple[frozenset[int], "re.Pattern[str]"]


@functools.cache
def _region_patterns(region: str) -> tuple["re.Pattern[str] | None", _Pattern, tuple[_Pattern, ...]] | None:
    """A region's national-prefix pattern, general pattern and number-type patterns (what is_valid_number checks)."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.general_desc is None or region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        return None

    def compiled(desc) -> _Pattern:
        return frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern or "(?!)")

    # Valid = the general pattern and any type's (the order is free: mobile and fixed line, most numbers, first).
    types = [getattr(meta, name) for name in ("mobile", "fixed_line", "premium_rate", "toll_free", "shared_cost",
                                             "voip", "personal_number", "pager", "uan", "voicemail")]
    prefix = re.compile(meta.national_prefix_for_parsing) if meta.national_prefix_for_parsing else None
    return prefix, compiled(meta.general_desc), tuple(compiled(t) for t in types if t is not None)


def _matches(pattern: _Pattern, national: str) -> bool:
    lengths, regex = pattern
    return (not lengths or len(national) in lengths) and regex.fullmatch(national) is not None


def _as_whatsapp_id(raw: str) -> str | None:
    """A number written the way WhatsApp ids are ("+52 1 55…", "5511 8765 4321"): its valid E.164 form, if any."""
    text = raw.strip()
    international = text.startswith(("+", "00")) or text.isdigit()
    digits = re.sub(r"\D", "", text.removeprefix("00"))
    return phones.wa_id_to_e164(digits) if international and len(digits) >= 8 else None


def match_keys(raw: str | None, region: str | None = None) -> frozenset[str]:
    """The E.164 forms a stored number is found under (F18): its own, and the WhatsApp-id variants (Mexico's 521…,
    Brazil with and without the ninth digit), so an inbound wa_id in any of them finds it."""
    info = number_info(raw, region)
    return info.keys if info else frozenset()


# Built-in property schemas. The contact's own fields are columns of `contact`; the rest are records' properties.
CONTACT_FIELDS = (Property("name", label="Name"), Property("phone", "phone", label="Phone"),
                  Property("mobile", "phone", label="Mobile"), Property("email", "email", label="Email"),
                  Property("owner", label="Owner"), Property("opt_in_source", label="WhatsApp opt-in source"),
                  Property("opt_in_date", "date", label="WhatsApp opt-in date"))
DEAL_STAGES = ("appointment scheduled", "qualified to buy", "presentation scheduled", "decision maker bought-in",
               "contract sent", "closed won", "closed lost")
TICKET_STATUSES = ("new", "waiting on contact", "waiting on us", "closed")
TICKET_PRIORITIES = ("low", "medium", "high", "urgent")
BUILTIN_TYPES = (
    ObjectType("company", "Companies", (Property("domain", label="Domain"), Property("phone", "phone", label="Phone"),
                                        Property("city", label="City"), Property("industry", label="Industry"))),
    ObjectType("deal", "Deals", (Property("pipeline", label="Pipeline"),
                                 Property("stage", "enum", DEAL_STAGES, label="Stage"),
                                 Property("amount", "number", label="Amount"),
                                 Property("close_date", "date", label="Close date"))),
    ObjectType("ticket", "Tickets", (Property("status", "enum", TICKET_STATUSES, label="Status"),
                                     Property("priority", "enum", TICKET_PRIORITIES, label="Priority"))),
)
RESERVED_TYPES = ("contact", "contacts", "thread", "threads")
