"""printable(): nothing a customer writes reaches the terminal as a control, escape or bidi instruction."""


import pytest

from core.text import one_line, printable

HOSTILE = [
    "\x1b[2J\x1b[H",                                   # clear screen, cursor home
    "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\",  # OSC 8 hyperlink
    "\x1b]0;new title\x07",                            # OSC set title, BEL-terminated
    "\x9b31m",                                         # C1 CSI
    "\x90qdcs\x9c",                                    # C1 DCS ... ST
    "abc\u202edcba",                                   # right-to-left override
    "\u2066isolate\u2069",
    "zero\u200bwidth\ufeff",
    "line\u2028sep",
    "nul\x00bel\x07bs\x08del\x7f",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_no_control_escape_or_bidi_character_survives(text):
    shown = printable(text)
    assert shown.isprintable(), repr(shown)
    assert not any(ch in shown for ch in "\x1b\x07\x9b\x9c\x90\u202e\u2066\u2069\u200b\ufeff\u2028")


@pytest.mark.parametrize("text, expected", [
    ("\x1b[31mred", "␛[31mred"),
    ("a\u202eb", "a⟨U+202E⟩b"),
    ("bell\x07", "bell␇"),
    ("tab\there", "tab␉here"),
])
def test_what_was_there_stays_visible(text, expected):
    assert printable(text) == expected


def test_markup_is_left_as_text_for_the_literal_layer():
    assert printable("[bold]x[/] [@click=app.quit]y[/] [/") == "[bold]x[/] [@click=app.quit]y[/] [/"


def test_newlines_and_tabs_kept_only_when_asked():
    assert printable("a\nb\tc", keep_newlines=True) == "a\nb\tc"
    assert printable("a\nb", keep_newlines=False) == "a␊b"
    assert one_line("first\nsecond") == "first ⏎ second"


def test_non_latin_text_is_untouched():
    text = "Zażółć gęślą jaźń — Привет — مرحبا — 你好 👍🏽"
    assert printable(text) == text


def test_limit_cuts_with_an_ellipsis():
    assert printable("abcdef", limit=3) == "abc…"
    assert printable("abc", limit=3) == "abc"


def test_a_megabyte_line_is_neutralised_whole():  # how long it takes: tests/bench/bench_render.py
    big = ("x" * 1000 + "\x1b[31m\u202e") * 1000
    shown = printable(big)
    assert "\x1b" not in shown and "\u202e" not in shown and shown.count("x" * 1000) == 1000
