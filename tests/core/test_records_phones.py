"""The import's fast path for numbers written internationally (issue 9: 100,000 contacts in seconds) decides exactly
what phonenumbers' full parse decides: the same E.164 for a valid number, and never "valid" for one it refuses."""

from __future__ import annotations

import random

import phonenumbers
from phonenumbers import PhoneNumberType

from core.records.properties import _international_info, _parsed_info

TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE, PhoneNumberType.VOIP,
         PhoneNumberType.PREMIUM_RATE)


def spellings() -> list[str]:
    """Every region's example numbers, as written with spaces and dashes, and near misses of each (a digit short,
    a digit long, another first digit), plus random digit strings behind country codes."""
    rng = random.Random(9)
    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in TYPES:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            cc, national = str(example.country_code), phonenumbers.national_significant_number(example)
            for n in (national, national[:-1], national + "7", str((int(national[0]) + 1) % 10) + national[1:]):
                found += [f"+{cc}{n}", f"+{cc} {n[:3]} {n[3:]}", f"+{cc}-{n[:2]}-{n[2:]}"]
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    found += [f"+{rng.choice(codes)} {rng.randrange(10 ** rng.randint(3, 12))}" for _ in range(3000)]
    return found


def test_the_fast_path_agrees_with_phonenumbers_on_every_number_it_answers():
    answered = 0
    for text in spellings():
        fast = _international_info(text)
        if fast is not None:
            answered += 1
            assert fast == _parsed_info(text, None), text
    assert answered > 1000  # and it answers most of them: the import's numbers do not all take the slow path


def test_the_fast_path_takes_the_numbers_a_crm_export_writes():
    info = _international_info("+48 601 234 567")
    assert info is not None and (info.e164, info.national) == ("+48601234567", "601234567")
    assert _international_info("+48 601 234 56") is None          # too short: the full parse decides (and refuses)
    assert _parsed_info("+48 601 234 56", None) is None
