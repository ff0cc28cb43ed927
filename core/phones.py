"""Phone numbers: E.164 normalisation with `phonenumbers`, and the WhatsApp-id quirks (reference §2.2).

A wa_id is digits without "+", but not always a valid E.164 number: Mexico's mobile ids carry a "1" after the
country code (521…), and legacy Brazilian mobile ids lack the ninth digit. We map these to the valid number, and
never store an invalid normalisation: when nothing valid comes out, callers keep the raw id.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import phonenumbers

# `phonenumbers` (~15 ms to import) is imported by the functions that parse: the inbox's first screen shows no
# number that needs it, and starts without it.


@lru_cache(maxsize=8192)  # ~0.1 ms a parse; matching a new customer parses the same number several times
def to_e164(raw: str | None, default_region: str | None = None) -> str | None:
    """A valid E.164 string for what a person typed ("+48 601 234 567", "0048…", "601-234-567"), else None."""
    import phonenumbers

    number = parse_valid(raw, default_region)
    return None if number is None else phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_valid(raw: str | None, default_region: str | None = None) -> phonenumbers.PhoneNumber | None:
    """What a person typed as a valid parsed number, else None (see to_e164)."""
    import phonenumbers

    if not raw:
        return None
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else default_region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def candidate_e164s(wa_id: str | None) -> set[str]:
    """Every valid E.164 form a customer with this wa_id may be stored under."""
    if not wa_id or not wa_id.isdigit():
        return set()
    found = set()
    plain = to_e164("+" + wa_id)
    if plain:
        found.add(plain)
    if wa_id.startswith("521") and len(wa_id) == 13:  # Mexico: 52 1 XXXXXXXXXX -> 52 XXXXXXXXXX
        mexico = to_e164("+52" + wa_id[3:])
        if mexico:
            found.add(mexico)
    if wa_id.startswith("55") and len(wa_id) in (12, 13):  # Brazil: with or without the mobile ninth digit
        area, local = wa_id[2:4], wa_id[4:]
        if len(local) == 8:
            with_nine = to_e164(f"+55{area}9{local}")
            if with_nine:
                found.add(with_nine)
        elif len(local) == 9 and local.startswith("9"):
            without = to_e164(f"+55{area}{local[1:]}")
            if without:
                found.add(without)
    return found


def wa_id_to_e164(wa_id: str | None) -> str | None:
    """The one valid E.164 number for a wa_id (preferring the mapped Mexican/Brazilian form), else None."""
    if not wa_id or not wa_id.isdigit():
        return None
    if wa_id.startswith("521") and len(wa_id) == 13:
        mapped = to_e164("+52" + wa_id[3:])
        if mapped:
            return mapped
    if wa_id.startswith("55") and len(wa_id) == 12:
        mapped = to_e164(f"+55{wa_id[2:4]}9{wa_id[4:]}")
        if mapped:
            return mapped
    return to_e164("+" + wa_id)


def same_number(a: str | None, b: str | None, default_region: str | None = None) -> bool:
    """True when both are the same valid number, whatever their formats (wa_id digits count as international)."""
    def forms(raw: str | None) -> set[str]:
        if raw and raw.isdigit() and not raw.startswith("0"):
            return candidate_e164s(raw) | ({to_e164(raw, default_region)} - {None})
        return {to_e164(raw, default_region)} - {None}
    return bool(forms(a) & forms(b))


def display(e164_or_wa_id: str | None) -> str | None:
    """A customer's number as people read it ("+48 600 700 800"); the raw id when it is not a valid number."""
    if not e164_or_wa_id:
        return None
    import phonenumbers

    raw = e164_or_wa_id if e164_or_wa_id.startswith("+") else "+" + e164_or_wa_id
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return e164_or_wa_id
    if not phonenumbers.is_valid_number(number):
        return e164_or_wa_id
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
