"""Notifications that reach the agent's own desktop over SSH (F21, F31): an escape sequence the terminal turns into
a desktop notification, chosen by what the terminal says it is, with the bell as the fallback; and an optional
`notify_command` run with the event as JSON on its standard input."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
from collections.abc import Mapping

from core.text import printable

log = logging.getLogger("wabox.notify")
HOOK_TIMEOUT = 10.0
BELL = "\a"


def _clean(text: str, limit: int) -> str:
    """Untrusted text inside an escape sequence: no control characters (they would end it), no ';' (OSC 777's
    separator)."""
    return printable(text, limit=limit).replace(";", ",").replace("\x1b", "").replace("\a", "")


def protocol(env: Mapping[str, str] = os.environ) -> str:
    """"osc99" (kitty), "osc777" (urxvt, foot, VTE terminals: GNOME Terminal, Tilix…), "osc9" (iTerm2, WezTerm,
    Ghostty, Windows Terminal, ConEmu), else "bell"."""
    term, program = env.get("TERM", ""), env.get("TERM_PROGRAM", "")
    if env.get("KITTY_WINDOW_ID") or term == "xterm-kitty":
        return "osc99"
    if program in ("iTerm.app", "WezTerm", "ghostty") or env.get("WT_SESSION") or env.get("ConEmuPID") \
            or term in ("xterm-ghostty", "wezterm"):
        return "osc9"
    if env.get("VTE_VERSION") or term.startswith(("rxvt", "foot")):
        return "osc777"
    return "bell"


def sequence(title: str, body: str, env: Mapping[str, str] = os.environ) -> str:
    """What to write to the terminal; wrapped for tmux (which passes it on with `allow-passthrough on`)."""
    kind, title, body = protocol(env), _clean(title, 80), _clean(body, 200)
    if kind == "osc99":
        text = f"\x1b]99;i=1:d=0;{title}\x1b\\\x1b]99;i=1:d=1:p=body;{body}\x1b\\"
    elif kind == "osc777":
        text = f"\x1b]777;notify;{title};{body}\x1b\\"
    elif kind == "osc9":
        text = f"\x1b]9;{title}: {body}\x1b\\"
    else:
        return BELL
    if env.get("TMUX"):
        text = "\x1bPtmux;" + text.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return text


async def run_hook(command: str, event: dict) -> int | None:
    """Run `notify_command` (split like a shell would, never through one) with the event as JSON on stdin.
    Returns its exit code, or None if it could not run or took too long; a failing hook never stops the inbox."""
    try:
        process = await asyncio.create_subprocess_exec(*shlex.split(command), stdin=asyncio.subprocess.PIPE,
                                                       stdout=asyncio.subprocess.DEVNULL,
                                                       stderr=asyncio.subprocess.DEVNULL)
    except (OSError, ValueError) as error:
        log.warning("notify_command could not run: %s", error)
        return None
    try:
        await asyncio.wait_for(process.communicate(json.dumps(event, ensure_ascii=False).encode()), HOOK_TIMEOUT)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        log.warning("notify_command took longer than %.0f s: stopped", HOOK_TIMEOUT)
        return None
    return process.returncode
