"""`wabox import|export|contacts|companies|deals|tickets|objects`: the records (F17) from the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from app.commands._common import REFUSED, CommandError, agent_name, config_from, open_store
from app.commands.output import print_json
from core.records import csvio
from core.records import db as records
from core.records.properties import Property, PropertyError, RESERVED_TYPES
from core.records.service import Records
from core.store import Store
from core.text import one_line, printable
from core.views import SearchError


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    store = await open_store(config_from(args))
    try:
        if args.command == "import":
            return await _import(store, args)
        if args.command == "export":
            return await _export(store, args)
        if args.command == "objects":
            return await _objects(store, args)
        return await _records(store, args, args.kind)
    except (PropertyError, csvio.CsvRefused, SearchError) as error:
        raise CommandError(str(error), REFUSED) from None
    finally:
        await store.close()


async def _kind(store: Store, word: str) -> str:
    return csvio.kind_of(word, await store.run(csvio.object_type_names))


async def _import(store: Store, args: argparse.Namespace) -> int:
    kind = await _kind(store, args.kind)
    overrides = {}
    for pair in args.map:
        column, sep, prop = pair.partition("=")
        if not sep:
            raise CommandError(f"--map {pair!r}: write it as COLUMN=PROPERTY (or COLUMN= to skip the column)")
        overrides[column] = prop.strip()
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"{args.file}: not UTF-8 text (save the CSV as UTF-8)", REFUSED) from None
    bar = _Progress() if sys.stderr.isatty() else None
    outcome = await store.run(lambda conn: csvio.run_import(
        conn, kind, text, overrides=overrides, region=args.region, dry_run=args.dry_run, now=int(time.time()),
        progress=bar.show if bar else lambda done, total: None))
    if bar:
        bar.done()
    for warning in outcome.warnings:
        print(f"wabox: {printable(warning, keep_newlines=False)}", file=sys.stderr)
    for problem in outcome.problems:
        print(f"wabox: {printable(str(problem), keep_newlines=False)}", file=sys.stderr)
    verb = "would be" if args.dry_run else "were"
    print(f"{outcome.created} created, {outcome.updated} updated, {outcome.linked} links made, "
          f"{len(outcome.problems)} bad rows left out{' (dry run: nothing written)' if args.dry_run else ''}")
    if outcome.problems:
        print(f"wabox: {len(outcome.problems)} rows {verb} refused (see above); the good rows "
              f"{'would land' if args.dry_run else 'landed'}", file=sys.stderr)
    return REFUSED if outcome.problems else 0


class _Progress:
    """A bar on stderr, redrawn in place: `[########            ] 40,000 / 100,000 lines`."""

    def show(self, done: int, total: int) -> None:
        filled = 30 * done // max(total, 1)
        sys.stderr.write(f"\r[{'#' * filled}{' ' * (30 - filled)}] {done:,} / {total:,} lines")
        sys.stderr.flush()

    def done(self) -> None:
        sys.stderr.write("\n")


async def _export(store: Store, args: argparse.Namespace) -> int:
    kind = await _kind(store, args.kind)
    rows = await store.run(lambda conn: list(csvio.export_rows(conn, kind)))
    if args.file:
        with open(args.file, "w", encoding="utf-8", newline="") as out:
            count = csvio.write_csv(rows, out)
        print(f"{count} rows written to {args.file}", file=sys.stderr)
    else:
        csvio.write_csv(rows, sys.stdout)
    return 0


async def _records(store: Store, args: argparse.Namespace, kind: str) -> int:
    service = Records(store)
    if args.action == "merge":
        await service.merge(args.keep, args.gone, agent=agent_name(args))
        print(f"contact {args.gone} merged into {args.keep}")
        return 0
    if args.action == "list":
        if kind != "contact" and await service.object_type(kind) is None:
            raise CommandError(f"no object type {kind!r} (see `wabox objects types`)")
        rows = await service.rows(kind, args.search, 0, args.limit)
        if args.json:
            print_json([{"id": r.id, "name": r.title, "detail": r.detail} for r in rows])
        else:
            for r in rows:
                print(f"{r.id:>7}  {one_line(r.title, 40):<40}  {one_line(r.detail, 80)}")
        return 0
    if kind == "contact":
        page = await service.contact_page(args.id)
        if page is None:
            raise CommandError(f"no contact {args.id}", REFUSED)
        data = _contact_json(page)
    else:
        record_page = await service.record_page(args.id)
        if record_page is None or (kind is not None and record_page.record.type != kind):
            raise CommandError(f"no {kind or 'record'} {args.id}", REFUSED)
        data = _record_json(record_page)
    if args.json:
        print_json(data)
    else:
        _print_page(data)
    return 0


def _contact_json(page) -> dict:
    c = page.contact
    return {"id": c.id, "type": "contact", "name": c.name,
            "phones": [{"kind": k, "number": v} for k, v in (("phone", c.phone), ("mobile", c.mobile),
                                                             ("whatsapp", c.e164 or c.wa_id)) if v],
            "email": c.email, "owner": c.owner,
            "company": next((r.name for r in page.records if r.type == "company"), None),
            "whatsapp_opt_in": {"source": c.opt_in_source, "date": c.opt_in_date} if c.opt_in_date else None,
            "properties": c.props,
            "records": [{"id": r.id, "type": r.type, "name": r.name} for r in page.records],
            "threads": page.threads,
            "merged": [{"contact": m["merged_id"], "at": m["at"], "agent": m["agent"]} for m in page.merges]}


def _record_json(page) -> dict:
    r = page.record
    return {"id": r.id, "type": r.type, "name": r.name, "owner": r.owner, "properties": r.props,
            "records": [{"id": x.id, "type": x.type, "name": x.name} for x in page.records],
            "contacts": [{"id": c.id, "name": c.name} for c in page.contacts], "threads": page.threads}


def _print_page(data: dict) -> None:
    for key, value in data.items():
        if isinstance(value, list):
            value = ", ".join(one_line(str(v.get("name") or v.get("number") or v.get("contact") or v), 60)
                              if isinstance(v, dict) else str(v) for v in value)
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        print(f"{key:<16}{one_line('' if value is None else str(value), 200)}")


async def _objects(store: Store, args: argparse.Namespace) -> int:
    if args.action == "define":
        name = args.type.lower()
        if name != "contact" and (name in RESERVED_TYPES or csvio.KIND_ALIASES.get(name)):
            raise CommandError(f"{name!r} is built in; custom properties go on contacts (`objects define contact`)")
        properties = [Property.parse(spec) for spec in args.property]
        if name == "contact" and not properties:
            raise CommandError("give the contact properties to add with --property NAME:TYPE")
        await store.write(records.define_type, name, args.label or name.capitalize() + "s", properties)
        print(f"{name}: {len(properties)} properties defined")
        return 0
    if args.action == "types":
        types = await store.run(records.object_types)
        contact_props = await store.run(records.contact_properties)
        listed = [{"name": "contact", "label": "Contacts", "properties": [p.to_json() for p in contact_props]}] + [
            {"name": t.name, "label": t.label, "properties": [p.to_json() for p in t.properties]} for t in types]
        if args.json:
            print_json(listed)
        else:
            for t in listed:
                props = ", ".join(f"{p['name']}:{p['type']}" for p in t["properties"])
                print(f"{t['name']:<12} {one_line(t['label'], 20):<20} {one_line(props, 120)}")
        return 0
    if args.action == "list":
        args.kind = await _kind(store, args.kind)
    return await _records(store, args, args.kind)
