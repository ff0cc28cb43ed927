"""`wabox`: argument parsing and dispatch only. Each subcommand lives in app/commands/<name>.py with `run(args)`.

Modules are imported only when their command runs, so `wabox serve` never imports Textual and `wabox --help`
is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="PATH", help="config file (default: $WABOX_CONFIG, else the platform "
                                                         "config dir's wabox/config.toml)")
    parser.add_argument("--db", metavar="PATH", help="database file (default: $WABOX_DB, else config's db)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wabox",
        description="A keyboard-driven terminal inbox for WhatsApp Business (Meta's Cloud API). "
                    "With no command, opens the inbox.",
    )
    _common(parser)
    parser.add_argument("--agent", metavar="NAME", help="who you are in the inbox (default: $USER)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("inbox", help="open the inbox (the default)")
    _common(p)
    p.add_argument("--agent", metavar="NAME", help="who you are in the inbox (default: $USER)")

    p = sub.add_parser("serve", help="run the webhook receiver and the sender (production)")
    _common(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--no-sender", action="store_true", help="receive only; do not run the outbox sender")
    p.add_argument("--read-timeout", type=float, default=15.0, metavar="SECONDS",
                   help="a request's headers, and then its body, must arrive within this (else closed / 408)")
    p.add_argument("--max-connections", type=int, default=200, metavar="N",
                   help="open connections beyond which requests are answered 503, which Meta retries")

    p = sub.add_parser("reingest", help="ingest again the webhook bodies kept pending (run after an upgrade)")
    _common(p)

    p = sub.add_parser("demo", help="simulator + receiver + seeded data on loopback, then the inbox")
    p.add_argument("--db", metavar="PATH", help="demo database (default: a fresh one in a temp dir)")
    p.add_argument("--port", type=int, default=0, help="receiver port (default: a free one)")
    p.add_argument("--sim-port", type=int, default=0, help="simulator port (default: a free one)")
    p.add_argument("--agent", metavar="NAME", help="who you are in the inbox (default: $USER)")
    p.add_argument("--quiet-customers", action="store_true", help="no simulated customers writing on their own")

    p = sub.add_parser("sim", help="run the Cloud API simulator standalone")
    _common(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--webhook-url", required=True, help="where to send signed webhooks (wabox serve's /webhook)")
    p.add_argument("--customers", action="store_true", help="simulated customers write now and then")

    p = sub.add_parser("threads", help="list threads")
    _common(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--view", default="open", choices=["open", "closed", "sent", "mine", "unassigned"])
    p.add_argument("--search", metavar="TEXT")
    p.add_argument("--agent", metavar="NAME", help="for --view mine (default: $USER)")
    p.add_argument("--limit", type=int, default=500)

    p = sub.add_parser("thread", help="show one thread and its messages")
    _common(p)
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("send", help="queue a message through the same policy as the inbox")
    _common(p)
    p.add_argument("--from", dest="from_", required=True, metavar="PHONE_NUMBER_ID")
    p.add_argument("--to", required=True, metavar="NUMBER")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--text")
    what.add_argument("--template", metavar="NAME")
    what.add_argument("--file", metavar="PATH")
    p.add_argument("--lang", metavar="CODE", help="template language, e.g. pl_PL")
    p.add_argument("--param", action="append", default=[], metavar="V", help="template body parameter, in order")
    p.add_argument("--caption", help="caption for --file")
    p.add_argument("--wait", action="store_true", help="wait until sent or failed; exit 1 on failure")
    p.add_argument("--agent", metavar="NAME")

    p = sub.add_parser("connect", help="connect WhatsApp numbers (checked against the Graph API)")
    _common(p)
    p.add_argument("--waba-id", required=True)
    p.add_argument("--phone-number-id", action="append", required=True, metavar="ID")
    p.add_argument("--name", help="channel name (default: the number's verified name)")

    p = sub.add_parser("channels", help="connected numbers and their health")
    _common(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("templates", help="message templates (synced by wabox serve)")
    _common(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--sync", action="store_true", help="sync from the Graph API now")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or "inbox"
    module = importlib.import_module(f"app.commands.{command}")
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
