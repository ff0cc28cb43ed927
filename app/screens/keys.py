"""Which keys the footer shows for the focused pane, and every key for the help screen (`?`).

Both are read from the BINDINGS themselves, so neither can drift from what the keys do. A key hidden from the footer
still works: only its label is left out, so an 80-column footer holds what matters where the agent is.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from textual.binding import ActiveBinding, Binding
from textual.widget import Widget

# The inbox screen's actions the footer shows, per focused pane (the focused widget's own keys always show).
# Each pane's list fits an 80-column footer with the command palette key.
PANE_ACTIONS: dict[str, tuple[str, ...]] = {
    "list": ("search", "close_threads", "assign", "next_unanswered", "toggle_views", "help"),
    "thread": ("reply", "template", "close_threads", "reveal", "retry", "view_media", "save_media", "back", "help"),
    "composer": ("help",),
}
# Where the help screen lists each of the inbox screen's actions; the rest work anywhere.
HELP_PANES: dict[str, tuple[str, ...]] = {
    "list": ("search", "close_threads", "reopen_threads", "assign_me", "assign", "mark_unread", "snooze",
             "next_unanswered", "toggle_order", "toggle_views", "new_view"),
    "thread": ("reply", "template", "note", "attach", "toggle_metadata", "reveal", "retry", "view_media",
               "save_media", "toggle_contact", "link_record", "back"),
}

def focused_pane(focused: Widget | None) -> str:
    """"list", "thread" or "composer": where the agent's keys go now."""
    for node in (focused.ancestors_with_self if focused is not None else []):
        if node.id == "composer":
            return "composer"
        if node.id in ("thread", "contact", "conversation"):
            return "thread"
    return "list"


def footer_bindings(screen_actions: set[str], pane: str,
                    active: dict[str, ActiveBinding]) -> dict[str, ActiveBinding]:
    """The screen's bindings that do not matter in `pane` keep working but leave the footer."""
    shown = set(PANE_ACTIONS[pane])
    return {key: (a._replace(binding=replace(a.binding, show=False))
                  if a.binding.action in screen_actions and a.binding.action not in shown else a)
            for key, a in active.items()}


async def keys_delivered(widget: Widget | None) -> None:
    """Wait until `widget` has handled the keys already routed to it. A priority binding runs as its key is routed,
    ahead of the keys before it that the focused widget has not handled yet: it calls this first, so it acts on
    what was typed, and the keys after it go where it moves the focus."""
    done = asyncio.Event()
    if widget is not None and widget.call_later(done.set):  # queued behind those keys
        await done.wait()


@dataclass(frozen=True)
class KeyRow:
    keys: tuple[str, ...]
    description: str
    tooltip: str


def key_rows(bindings: list[Binding | tuple[str, ...]], *, only: set[str] | None = None,
             skip: set[str] | None = None) -> list[KeyRow]:
    """One row per action, its keys together (`j`, `down`); `only`/`skip` pick actions by name. System bindings
    (the inbox's escape-then-key ones) are plumbing, not keys to learn."""
    rows: dict[str, KeyRow] = {}
    for binding in Binding.make_bindings(bindings):
        action = binding.action
        if binding.system or (only is not None and action not in only) or (skip and action in skip):
            continue
        description = binding.description or action.replace("_", " ").capitalize()
        if action in rows:
            row = rows[action]
            rows[action] = replace(row, keys=(*row.keys, binding.key))
        else:
            rows[action] = KeyRow((binding.key,), description, binding.tooltip)
    return list(rows.values())


def hint(app, bindings: list, actions: list[str]) -> str:
    """"S save file · esc close": the real keys of `actions`, for a line of text that names them."""
    first: dict[str, Binding] = {}
    for binding in Binding.make_bindings(bindings):
        first.setdefault(binding.action, binding)
    return " · ".join(f"{app.get_key_display(first[a])} {first[a].description.lower()}" for a in actions
                      if a in first)
