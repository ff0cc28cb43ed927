"""`wabox saved-replies list|add|import|export`: shared and personal saved replies (JSON for import/export)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from app.commands._common import agent_name
from app.commands._team import with_store
from app.commands.output import print_json, table
from core import saved_replies
from core.agents import known_agent


def run(args: argparse.Namespace) -> int:
    now = int(time.time())

    async def job(store) -> int:
        if args.action == "add":
            owner = await store.run(known_agent, agent_name(args)) if args.personal else ""
            await saved_replies.save(store, args.name, args.text, owner=owner, now=now)
            print(f"saved {'personal' if owner else 'shared'} reply {args.name!r}")
        elif args.action == "import":
            text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
            print(f"imported {await saved_replies.import_replies(store, text, now=now)} saved replies")
        elif args.action == "export":
            print_json(await saved_replies.export(store))
        else:
            found = await saved_replies.available(store, agent_name(args))
            if args.json:
                print_json([{"name": r.name, "body": r.body, "shared": r.shared} for r in found])
            else:
                print(table(["NAME", "SHARED", "TEXT"], [[r.name, "yes" if r.shared else "", r.body]
                                                         for r in found], widths={2: 60}))
        return 0

    return with_store(args, job)


def add_parser(command, shared) -> None:
    p = command("saved-replies", "saved replies: list, add, import, export (JSON)")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = sub.add_parser("list", parents=[shared], help="the shared ones and yours")
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")
    add = sub.add_parser("add", parents=[shared],
                         help="add or replace one; {{contact.first_name}}, {{agent.name}} … are filled in")
    add.add_argument("name", help="what the picker lists it as")
    add.add_argument("--text", required=True, help="the reply, with {{variables}}")
    add.add_argument("--personal", action="store_true", help="yours only (--agent), not shared")
    importing = sub.add_parser("import", parents=[shared], help="import a JSON list of {name, body[, owner]}")
    importing.add_argument(
        "file", metavar="FILE", help="a JSON file, or - for standard input")
    sub.add_parser("export", parents=[shared], help="print every saved reply as JSON (what import reads)")
