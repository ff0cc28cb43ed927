"""The arguments of the records commands (import, export, contacts, companies, deals, tickets, objects).

Kept apart from the commands so that building the parser imports nothing heavy."""

from __future__ import annotations

import argparse
from collections.abc import Callable

RECORD_LISTS = {"contacts": "contact", "companies": "company", "deals": "deal", "tickets": "ticket"}


def add_record_commands(command: Callable[..., argparse.ArgumentParser], shared: argparse.ArgumentParser) -> None:
    """`command(name, help, ...)` makes a top-level command; `shared` holds --config/--db/--agent for subcommands."""
    p = command("import", "import contacts, companies, deals, tickets or custom objects from a CSV file",
                description="Update-or-create each row by its key: an id column, else (contacts) the phone or mobile "
                            "in E.164, else the email; (other records) the name. Columns are mapped to properties "
                            "from the header (override with --map). A `company` column links by company name; a "
                            "`contacts` column links a deal, ticket or custom record to contacts by email or phone. "
                            "Each bad row is reported with its line and reason and changes nothing; the good rows "
                            "land.")
    p.add_argument("kind", metavar="KIND", help="contacts, companies, deals, tickets or a custom object type")
    p.add_argument("file", metavar="FILE.csv", help="the CSV file (UTF-8, header line first)")
    p.add_argument("--map", action="append", default=[], metavar="COLUMN=PROPERTY",
                   help="read COLUMN as PROPERTY (COLUMN= skips it); repeat for several")
    p.add_argument("--dry-run", action="store_true", help="check and report everything, write nothing")
    p.add_argument("--region", metavar="CC", help="country for numbers written without their code (e.g. PL)")
    p.add_argument("--module", default="records", help=argparse.SUPPRESS)

    p = command("export", "write contacts, companies, deals, tickets or custom objects as CSV (the import's shape)")
    p.add_argument("kind", metavar="KIND", help="contacts, companies, deals, tickets or a custom object type")
    p.add_argument("file", metavar="FILE.csv", nargs="?", help="where to write (default: standard output)")
    p.add_argument("--module", default="records", help=argparse.SUPPRESS)

    for name, kind in RECORD_LISTS.items():
        p = command(name, f"list, show{' or merge' if kind == 'contact' else ''} {name}")
        actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
        listing = actions.add_parser("list", help=f"list {name}", parents=[shared])
        listing.add_argument("--json", action="store_true", help="print JSON for scripts")
        listing.add_argument("--search", metavar="TEXT", help="by name, number, email or any property")
        listing.add_argument("--limit", type=int, default=500, help="at most this many (default: %(default)s)")
        show = actions.add_parser("show", help="one record, its properties and associations", parents=[shared])
        show.add_argument("id", type=int)
        show.add_argument("--json", action="store_true", help="print JSON for scripts")
        if kind == "contact":
            merge = actions.add_parser("merge", help="merge contact B into contact A (B's threads, numbers, "
                                                     "associations and properties move to A; recorded)",
                                       parents=[shared])
            merge.add_argument("keep", type=int, metavar="A")
            merge.add_argument("gone", type=int, metavar="B")
        p.set_defaults(module="records", kind=kind)

    p = command("objects", "custom object types: define one (or contacts' custom properties), list their records")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    define = actions.add_parser("define", help="create an object type or add properties (TYPE `contact` adds "
                                               "custom contact properties)", parents=[shared])
    define.add_argument("type", metavar="TYPE")
    define.add_argument("--label", help="plural name shown in the records screen")
    define.add_argument("--property", action="append", default=[], metavar="NAME:TYPE[:A|B…]",
                        help="a property: TYPE is text, number, date, enum (with its options), phone or email")
    types = actions.add_parser("types", help="every object type and its properties", parents=[shared])
    types.add_argument("--json", action="store_true", help="print JSON for scripts")
    listing = actions.add_parser("list", help="the records of a custom object type", parents=[shared])
    listing.add_argument("kind", metavar="TYPE")
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")
    listing.add_argument("--search", metavar="TEXT")
    listing.add_argument("--limit", type=int, default=500)
    show = actions.add_parser("show", help="one custom record", parents=[shared])
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    p.set_defaults(module="records", kind=None)
