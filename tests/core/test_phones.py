"""Phone numbers: E.164 in any stored format, and WhatsApp ids that are not plain E.164."""

import pytest

from core.phones import candidate_e164s, same_number, to_e164, wa_id_to_e164


@pytest.mark.parametrize("raw, region, expected", [
    ("+48 601 234 567", None, "+48601234567"),
    ("0048601234567", None, "+48601234567"),
    ("601-234-567", "PL", "+48601234567"),
    ("601-234-567", None, None),            # national form without a region: unknowable
    ("+49 151 12345678", None, "+4915112345678"),
    ("+48 22 123 45 67", None, "+48221234567"),  # a landline is a valid number too
    ("not a number", "PL", None),
    ("", "PL", None),
    ("+48 123", None, None),
])
def test_to_e164(raw, region, expected):
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize("wa_id, expected", [
    ("48601234567", "+48601234567"),
    ("4915112345678", "+4915112345678"),
    ("5215512345678", "+525512345678"),     # Mexico: WhatsApp's 521… form is not a valid number
    ("525512345678", "+525512345678"),
    ("551187654321", "+5511987654321"),     # Brazil: legacy id without the mobile ninth digit
    ("5511987654321", "+5511987654321"),
    ("5491123456789", "+5491123456789"),    # Argentina's 549… form is valid as it is
    ("999123", None),                       # never an invalid normalisation
    ("PL.4718290356123874", None),          # a BSUID is not a number
    ("", None),
])
def test_wa_id_to_e164(wa_id, expected):
    assert wa_id_to_e164(wa_id) == expected


def test_candidates_cover_every_valid_form():
    assert candidate_e164s("5215512345678") == {"+525512345678"}
    assert candidate_e164s("48601234567") == {"+48601234567"}
    assert candidate_e164s("PL.123") == set()


@pytest.mark.parametrize("a, b, same", [
    ("+48 601 234 567", "48601234567", True),
    ("0048 601-234-567", "+48601234567", True),
    ("5215512345678", "+52 55 1234 5678", True),
    ("551187654321", "+55 11 98765-4321", True),
    ("+48601234567", "+48601234568", False),
    ("garbage", "garbage", False),
])
def test_same_number(a, b, same):
    assert same_number(a, b) is same
