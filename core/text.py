"""Untrusted text made safe to show: every control, escape, bidi and invisible character made visible.

Customers write message bodies, names, captions and file names; none of it may restyle, move the cursor on, or
reorder an agent's terminal. What is neutralised stays visible (a `␛`, a `⟨U+202E⟩`), so an agent sees that
something odd was there instead of a silent gap.
"""

from __future__ import annotations

import unicodedata

_INVISIBLE = {0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF, 0x061C,
              0x2028, 0x2029, 0x00AD, 0x180E, 0x034F}
_BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))


def _picture(code: int) -> str:
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟ (control pictures)
    if code == 0x7F:
        return "␡"
    return f"⟨U+{code:04X}⟩"


def _build_table(keep_newlines: bool) -> dict[int, str]:
    table: dict[int, str] = {}
    for code in list(range(0x00, 0x20)) + [0x7F] + list(range(0x80, 0xA0)):
        table[code] = _picture(code)
    for code in _INVISIBLE | _BIDI:
        table[code] = _picture(code)
    for code in range(0xD800, 0xE000):  # lone surrogates (from surrogateescape or bad JSON)
        table[code] = "�"
    if keep_newlines:
        table.pop(ord("\n"))
        table.pop(ord("\t"))
    return table


_TABLE = _build_table(keep_newlines=False)
_TABLE_KEEP_NEWLINES = _build_table(keep_newlines=True)


def printable(text: str, *, keep_newlines: bool = False, limit: int | None = None) -> str:
    """`text` with nothing a terminal would act on. `limit` cuts to that many characters plus "…".

    ESC, C0/C1 controls, bidi controls and invisibles become visible pictures; an escape sequence's parameters
    are left as harmless text after its `␛`, so "\x1b[31m" shows as "␛[31m".
    """
    if limit is not None and len(text) > limit:
        text = text[:limit]
        cut = True
    else:
        cut = False
    text = text.translate(_TABLE_KEEP_NEWLINES if keep_newlines else _TABLE)
    if not text.isprintable():  # rare: other format/unassigned characters (Cf, Co, Cn) the table does not list
        text = "".join(ch if ch.isprintable() or (keep_newlines and ch in "\n\t") or
                       unicodedata.category(ch) in ("Zs",) else _picture(ord(ch)) for ch in text)
    return text + "…" if cut else text


def one_line(text: str, limit: int | None = None) -> str:
    """For list rows and previews: one line, newlines shown as ⏎."""
    return printable(text.replace("\r\n", "\n").replace("\n", " ⏎ "), limit=limit)
