"""`wabox`: argument parsing, dispatch and error reporting. Each subcommand lives in app/commands/<name>.py with
`run(args)`; it raises CommandError for anything the person who ran it must fix, and `main` prints it as one line.

Modules are imported only when their command runs, so `wabox serve` never imports Textual and `wabox --help`
is instant.

Exit codes (README "Exit codes"): 0 done; 1 refused or failed (a send the rules refuse, a message Meta refused, a
number `connect` cannot accept, an I/O error); 2 usage or configuration error (bad option, config, missing database);
3 `send --wait` gave up waiting (the message stays queued); 130 interrupted; 141 the output pipe was closed.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys

from app.commands._common import USAGE, CommandError
from app.gc_pauses import hold_collections
from core.store.db import database_errors

INTERRUPTED = 130
BROKEN_PIPE = 141
SHARED_OPTIONS = ("config", "db", "agent")


def _shared_options() -> argparse.ArgumentParser:
    """--config/--db/--agent, accepted before the command (`wabox --db X threads`) and after it.

    SUPPRESS keeps an option the subcommand was not given from hiding the root's value; main() fills in None."""
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="config file (default: $WABOX_CONFIG, else the platform config dir's wabox/config.toml)")
    shared.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                        help="database file or postgresql:// URL (default: $WABOX_DB, else the config's db); "
                             "a file must exist except for serve, connect and demo, which create it")
    shared.add_argument("--agent", metavar="NAME", default=argparse.SUPPRESS,
                        help="who you are: the inbox's author and `threads --view mine` (default: $USER)")
    return shared


def build_parser() -> argparse.ArgumentParser:
    shared = _shared_options()
    parser = argparse.ArgumentParser(
        prog="wabox", parents=[shared],
        description="A keyboard-driven terminal inbox for WhatsApp Business (Meta's Cloud API). "
                    "With no command, opens the inbox.",
        epilog="exit codes: 0 done, 1 refused or failed, 2 usage or configuration error, 3 send --wait timed out, "
               "130 interrupted",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=kwargs.pop("description", help), parents=[shared],
                              **kwargs)

    command("inbox", "open the inbox (the default)")

    p = command("serve", "run the webhook receiver and the sender (production)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (default: %(default)s)")
    p.add_argument("--no-sender", action="store_true", help="receive only; do not run the outbox sender")
    p.add_argument("--read-timeout", type=float, default=15.0, metavar="SECONDS",
                   help="a request's headers, and then its body, must arrive within this (else closed / 408)")
    p.add_argument("--max-connections", type=int, default=200, metavar="N",
                   help="open connections beyond which requests are answered 503, which Meta retries")

    command("reingest", "ingest again the webhook bodies kept pending (run after an upgrade)")

    p = command("demo", "simulator + receiver + seeded data on loopback, then the inbox",
                description="Everything on this machine: the simulator, receiver and sender on 127.0.0.1 and a "
                            "seeded demo database (a fresh one in a temp dir unless --db names one); --config is "
                            "not read.")
    p.add_argument("--port", type=int, default=0, help="receiver port (default: a free one)")
    p.add_argument("--sim-port", type=int, default=0, help="simulator port (default: a free one)")
    p.add_argument("--quiet-customers", action="store_true", help="no simulated customers writing on their own")

    from core.simulator.world import DEFAULT_NUMBERS  # a plain data module: cheap to import

    hosted = "; ".join(f"WABA {n['waba_id']} phone number {n['id']}" for n in DEFAULT_NUMBERS)
    p = command("sim", "run the Cloud API simulator standalone",
                description="The Cloud API simulator on its own, for trying `wabox serve` and `wabox connect` "
                            f"against it. With no [[channels]] in the config it hosts: {hosted}. Point "
                            "$WABOX_GRAPH_URL at the URL it prints.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8090, help="port to listen on (default: %(default)s)")
    p.add_argument("--webhook-url", required=True, help="where to send signed webhooks (wabox serve's /webhook)")
    p.add_argument("--customers", action="store_true", help="simulated customers write now and then")

    p = command("threads", "list threads")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.add_argument("--view", default="open", choices=["open", "closed", "sent", "mine", "unassigned", "snoozed"],
                   help="which threads (default: %(default)s)")
    p.add_argument("--search", metavar="TEXT", help="only threads whose messages or contact match TEXT")
    p.add_argument("--limit", type=int, default=500, help="at most this many threads (default: %(default)s)")

    p = command("thread", "show one thread and its messages")
    p.add_argument("id", type=int, help="the thread id (see `wabox threads`)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")

    p = command("send", "queue a message through the same policy as the inbox")
    p.add_argument("--from", dest="from_", required=True, metavar="PHONE_NUMBER_ID",
                   help="the connected number to send from (see `wabox channels`)")
    to = p.add_mutually_exclusive_group(required=True)
    to.add_argument("--to", metavar="NUMBER", help="the customer's number, with its country code")
    to.add_argument("--to-contact", type=int, metavar="ID",
                    help="a contact (see `wabox contacts list`): its WhatsApp number, else mobile, else phone")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="a free-form text (only inside the 24-hour session)")
    what.add_argument("--template", metavar="NAME", help="an approved template's name (see `wabox templates`)")
    what.add_argument("--file", metavar="PATH", help="an image, audio, video or document to send")
    p.add_argument("--lang", metavar="CODE", help="template language, e.g. pl_PL")
    p.add_argument("--param", action="append", default=[], metavar="V", help="template body parameter, in order")
    p.add_argument("--caption", help="caption for --file")
    p.add_argument("--force", action="store_true",
                   help="send a business-initiated template to a contact without a WhatsApp opt-in (F30)")
    p.add_argument("--wait", action="store_true",
                   help="wait until `wabox serve` has sent it or it failed; exit 1 on failure")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                   help="with --wait: give up after this long, exit 3, the message stays queued "
                        "(default: %(default)s)")

    p = command("connect", "connect WhatsApp numbers (checked against the Graph API)")
    p.add_argument("--waba-id", required=True, help="the WhatsApp Business Account the numbers belong to")
    p.add_argument("--phone-number-id", action="append", required=True, metavar="ID",
                   help="a phone number id of that WABA (repeat for several)")
    p.add_argument("--name", help="channel name (default: the number's verified name)")

    p = command("channels", "connected numbers and their health")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")

    from app.commands import agents, assign, saved_replies, teams  # argparse only: cheap to import

    for module in (agents, teams, assign, saved_replies):
        module.add_parser(command, shared)

    p = command("db", "database tools: `db copy` moves an SQLite install to PostgreSQL")
    tools = p.add_subparsers(dest="db_command", metavar="TOOL", required=True)
    c = tools.add_parser("copy", help="copy an SQLite database into an empty PostgreSQL one, then compare them",
                         description="Copy every table of an SQLite database into an empty PostgreSQL database "
                                     "(one transaction), then print each table's row counts and content hashes on "
                                     "both sides; exit 1 (and keep nothing) if any differs. The URL carries no "
                                     "password: set $PGPASSWORD or use ~/.pgpass.")
    c.add_argument("--from", dest="source", required=True, metavar="PATH", help="the SQLite database file")
    c.add_argument("--to", dest="target", required=True, metavar="URL", help="postgresql://user@host/database")

    p = command("templates", "message templates (synced by wabox serve)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.add_argument("--sync", action="store_true", help="sync from the Graph API now")

    from app.commands.records_args import add_record_commands  # argparse only: cheap to import

    add_record_commands(command, shared)
    return parser


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    args = _inbox_args(sys.argv[1:] if argv is None else argv) or build_parser().parse_args(argv)
    for name in SHARED_OPTIONS:
        if not hasattr(args, name):
            setattr(args, name, None)
    args.command = args.command or "inbox"
    return args


def _inbox_args(argv: list[str]) -> argparse.Namespace | None:
    """`wabox [inbox] [--config P] [--db P] [--agent N]`, read without building every command's parser (~30 ms of the
    inbox's cold start); None for anything else (help, a typo, an abbreviation), which the full parser reads."""
    values: dict[str, str] = {}
    tokens, command = list(argv), None
    while tokens:
        token = tokens.pop(0)
        name, eq, value = token.partition("=")
        if token == "inbox" and command is None:
            command = token
        elif name.startswith("--") and name[2:] in SHARED_OPTIONS:
            if not eq:
                if not tokens or tokens[0].startswith("-"):
                    return None
                value = tokens.pop(0)
            values[name[2:]] = value
        else:
            return None
    return argparse.Namespace(command="inbox", **{name: values.get(name) for name in SHARED_OPTIONS})


# The commands that open the inbox: they start with the garbage collector held (app/gc_pauses.py).
_INBOX_COMMANDS = ("inbox", "demo")


def main(argv: list[str] | None = None) -> int:
    hold_collections()  # off until the inbox's first screen is drawn; any other command turns it back on at once
    try:
        args = parse(argv)
        if args.command not in _INBOX_COMMANDS:
            gc.enable()
        return _run(args)
    finally:
        gc.enable()  # whatever happened: an in-process caller keeps its collector


def _run(args: argparse.Namespace) -> int:
    try:
        module = importlib.import_module(f"app.commands.{getattr(args, 'module', None) or args.command.replace('-', '_')}")
        code = int(module.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not as a traceback at exit
        return code
    except CommandError as error:
        return _fail(str(error), error.code)
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:
        # `wabox threads | head`: the reader has all it wanted. Point stdout at /dev/null so the flush at exit
        # cannot raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE
    except database_errors() as error:
        return _fail(f"database error: {error}", USAGE)
    except OSError as error:
        return _fail(str(error), 1)


def _fail(message: str, code: int) -> int:
    print(f"wabox: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
