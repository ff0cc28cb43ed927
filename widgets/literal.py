"""The one way to draw customer text: literal Content (never markup) of neutralised, printable text."""

from __future__ import annotations

from textual.content import Content

from core.text import printable


def literal(text: str, *, limit: int | None = None, keep_newlines: bool = True) -> Content:
    return Content(printable(text, keep_newlines=keep_newlines, limit=limit))
