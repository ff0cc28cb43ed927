"""CSV import and export of records (F17): one CSV shape both ways, so an export imports back unchanged.

Import reads the whole file and checks every row first (types, phones, enums, dates); then writes the good rows in
batches, each batch one transaction (executemany where it can), so 100,000 contacts take seconds and `wabox serve`
is never kept waiting for long. A bad row is reported with its line number and changes nothing. Rows are
updated-or-created by key: an `id` column, else (contacts) the phone or mobile in E.164, else the email; (records)
the name. An empty cell leaves a value as it is. A `company` column links by company name (the company is made if new); a deal's, ticket's or custom
record's `contacts` column links contacts by email or phone (`;` between several).
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from core.records import db as records
from core.records.model import ContactRecord
from core.records.properties import CONTACT_FIELDS, Property, PropertyError, match_keys, normalise
from core.store.db import begin_write, log_changes

BATCH = 5000
KIND_ALIASES = {"contacts": "contact", "contact": "contact", "companies": "company", "company": "company",
                "deals": "deal", "deal": "deal", "tickets": "ticket", "ticket": "ticket"}
# Header spellings seen in CRM exports -> our property names (after lower-casing and _ for spaces and dashes).
SYNONYMS = {
    "full_name": "name", "contact_name": "name", "company_name": "name", "deal_name": "name", "ticket_name": "name",
    "subject": "name", "first_and_last_name": "name",
    "phone_number": "phone", "telephone": "phone", "tel": "phone", "work_phone": "phone",
    "mobile_phone": "mobile", "mobile_phone_number": "mobile", "cell": "mobile", "cell_phone": "mobile",
    "cellphone": "mobile", "whatsapp": "mobile", "whatsapp_number": "mobile",
    "e_mail": "email", "email_address": "email", "mail": "email",
    "organisation": "company", "organization": "company", "account": "company", "associated_company": "company",
    "contact_owner": "owner", "deal_owner": "owner", "ticket_owner": "owner", "company_owner": "owner",
    "deal_stage": "stage", "closedate": "close_date", "close": "close_date", "value": "amount",
    "ticket_status": "status", "ticket_priority": "priority", "record_id": "id",
    "contact": "contacts", "contact_email": "contacts", "associated_contacts": "contacts",
    "whatsapp_opt_in_source": "opt_in_source", "opt_in": "opt_in_source",
    "whatsapp_opt_in_date": "opt_in_date", "opt_in_at": "opt_in_date",
}
LINK_COLUMNS = ("company", "contacts")


class CsvRefused(ValueError):
    """The file as a whole cannot be imported (no header, no name column, an unknown kind): nothing is written."""


@dataclass
class Problem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    linked: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)


@dataclass
class _Row:
    line: int
    id: int | None
    values: dict[str, str]       # property -> normalised value ("" clears)
    links: dict[str, list[str]]  # company / contacts -> keys


def kind_of(word: str, known: Iterable[str]) -> str:
    """`contacts` -> contact, `companies` -> company, …, or a custom object type by its name (or name + s)."""
    lowered = word.lower()
    if lowered in KIND_ALIASES:
        return KIND_ALIASES[lowered]
    for name in known:
        if lowered in (name, name + "s"):
            return name
    raise CsvRefused(f"no object type {word!r}: contacts, companies, deals, tickets"
                       + "".join(f", {n}" for n in known if n not in KIND_ALIASES.values()))


def properties_of(db: sqlite3.Connection, kind: str) -> tuple[Property, ...]:
    """The columns of `kind`'s CSV shape, in order (links after the properties)."""
    if kind == "contact":
        return CONTACT_FIELDS + records.contact_properties(db)
    kind_type = records.object_type(db, kind)
    assert kind_type is not None
    return (Property("name"), Property("owner")) + kind_type.properties


def columns_of(db: sqlite3.Connection, kind: str) -> list[str]:
    names = [p.name for p in properties_of(db, kind)]
    if kind == "contact":
        return ["id", *names[:4], "company", *names[4:]]
    return ["id", *names, *(["company", "contacts"] if kind != "company" else [])]


def guess_mapping(header: list[str], columns: list[str], overrides: dict[str, str]) -> tuple[dict[int, str], list[str]]:
    """{column index: property} from the header, overridden by `--map col=prop` (`col=` skips it); and warnings."""
    mapping: dict[int, str] = {}
    warnings: list[str] = []
    for index, title in enumerate(header):
        if title in overrides:
            target = overrides[title]
        else:
            key = re.sub(r"[\s\-./]+", "_", title.strip().lower()).strip("_")
            target = SYNONYMS.get(key, key)
        if not target:
            continue
        if target not in columns:
            warnings.append(f"column {title!r} is not a property here and is skipped "
                            f"(known: {', '.join(columns)}; map it with --map {title!r}=PROPERTY)")
            continue
        if target in mapping.values():
            warnings.append(f"column {title!r} maps to {target!r} again and is skipped")
            continue
        mapping[index] = target
    return mapping, warnings


def read_rows(db: sqlite3.Connection, kind: str, text: str, overrides: dict[str, str], region: str | None,
              outcome: Outcome) -> Iterator[_Row]:
    """Every row checked and normalised; a bad one becomes a Problem and is left out. The header is checked before
    the first row is asked for."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CsvRefused("the file is empty: a CSV needs a header line") from None
    columns = columns_of(db, kind)
    unknown = set(overrides) - set(header)
    if unknown:
        raise CsvRefused(f"--map names no column of the file: {', '.join(sorted(unknown))}")
    mapping, outcome.warnings = guess_mapping(header, columns, overrides)
    outcome.mapping = {header[i]: p for i, p in mapping.items()}
    mapped = set(mapping.values())
    if kind == "contact" and not mapped & {"id", "name", "phone", "mobile", "email"}:
        raise CsvRefused("no id, name, phone, mobile or email column: nothing to know a contact by")
    if kind != "contact" and not mapped & {"name", "id"}:
        raise CsvRefused("no name or id column")
    props = {p.name: p for p in properties_of(db, kind)}
    return _checked_rows(reader, header, mapping, props, region, outcome)


def _checked_rows(reader: Iterator[list[str]], header: list[str], mapping: dict[int, str],
                  props: dict[str, Property], region: str | None, outcome: Outcome) -> Iterator[_Row]:
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            outcome.problems.append(Problem(line, f"{len(cells)} cells for {len(header)} columns"))
            continue
        try:
            row = _check(line, {mapping[i]: c for i, c in enumerate(cells) if i in mapping}, props, region)
        except PropertyError as error:
            outcome.problems.append(Problem(line, str(error)))
            continue
        yield row


def _check(line: int, cells: dict[str, str], props: dict[str, Property], region: str | None) -> _Row:
    row_id = None
    if cells.get("id", "").strip():
        if not cells["id"].strip().isdigit():
            raise PropertyError(f"id: {cells['id']!r} is not a record id")
        row_id = int(cells["id"])
    values = {name: normalise(props[name], raw, region=region) for name, raw in cells.items() if name in props}
    values = {name: value for name, value in values.items() if value}  # an empty cell leaves the value as it is
    links = {name: [k.strip() for k in cells[name].split(";") if k.strip()] for name in LINK_COLUMNS if name in cells}
    return _Row(line, row_id, values, links)


def run_import(conn: sqlite3.Connection, kind: str, text: str, *, overrides: dict[str, str], region: str | None,
               dry_run: bool, now: int, progress: Callable[[int, int], None] = lambda done, total: None) -> Outcome:
    """Import `text` (a CSV) into `kind`. Runs on the connection's thread (Store.run); commits batch by batch, or,
    with `dry_run`, goes through exactly the same steps and rolls every batch back. `progress(lines read, lines)`."""
    outcome = Outcome()
    kind = kind_of(kind, object_type_names(conn))
    rows = read_rows(conn, kind, text, overrides, region, outcome)
    lines = text.count("\n") or 1
    write = _write_contact if kind == "contact" else _write_record
    state = _State(ContactKeys(conn, region) if kind == "contact" else None)
    while batch := list(itertools.islice(rows, BATCH)):
        kept = state.snapshot() if dry_run else None
        begin_write(conn)
        try:
            for row in batch:
                try:  # each writer checks its keys before it writes: a row it refuses leaves nothing behind
                    write(conn, kind, row, outcome, now, region, state)
                except PropertyError as error:
                    outcome.problems.append(Problem(row.line, str(error)))
            state.flush(conn, outcome)
            log_changes(conn, [("contact" if kind == "contact" else "record", None)], at=now)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("ROLLBACK" if dry_run else "COMMIT")
        if kept is not None:
            state.restore(kept)  # what this batch made was rolled back
        progress(min(batch[-1].line, lines), lines)
    outcome.problems.sort(key=lambda p: p.line)
    return outcome


class ContactKeys:
    """What an import finds a contact by — every stored E.164 form of a number, every email — read once, then kept
    true as rows create and update contacts (a SELECT per row made 100,000 rows take minutes)."""

    def __init__(self, db: sqlite3.Connection, region: str | None) -> None:
        self.region = region
        self.numbers: dict[str, int] = dict(db.execute("SELECT e164, min(contact_id) FROM contact_number GROUP BY e164"))
        self.emails: dict[str, int] = dict(db.execute("SELECT email, min(id) FROM contact WHERE email IS NOT NULL"
                                                      " GROUP BY email"))

    def find(self, row: _Row) -> int | None:
        for column in ("phone", "mobile"):
            found = [self.numbers[k] for k in match_keys(row.values.get(column), self.region) if k in self.numbers]
            if found:
                return min(found)
        return self.emails.get(row.values["email"]) if row.values.get("email") else None

    def saved(self, db: sqlite3.Connection, contact_id: int, before: ContactRecord | None,
              fields: dict[str, str]) -> None:
        """Keep the keys true after `contact_id` was saved with `fields` (`before`: as it was, None when new)."""
        for column in ("phone", "mobile"):
            if column in fields and before is not None:
                gone = match_keys(getattr(before, column), self.region) - match_keys(fields[column], self.region)
                for key in gone:  # its old number finds it no more
                    if self.numbers.get(key) == contact_id:
                        del self.numbers[key]
                        found = records.contact_by_number(db, key)
                        if found:
                            self.numbers[key] = found
            for key in match_keys(fields.get(column), self.region):
                self.numbers[key] = min(self.numbers.get(key, contact_id), contact_id)
        if "email" in fields:
            if (before is not None and before.email and before.email != fields["email"]
                    and self.emails.get(before.email) == contact_id):
                del self.emails[before.email]
                found = records.contact_by_email(db, before.email)
                if found:
                    self.emails[before.email] = found
            if fields["email"]:
                self.emails[fields["email"]] = min(self.emails.get(fields["email"], contact_id), contact_id)


@dataclass
class _State:
    """One import's memory across rows: the contact keys, the companies made or found, the writes held for the
    batch's flush (the index rows of new contacts, the company links)."""
    keys: ContactKeys | None
    companies: dict[str, int] = field(default_factory=dict)  # company name_key -> id
    deferred: records.Deferred = field(default_factory=records.Deferred)
    links: list[tuple[int, int, int]] = field(default_factory=list)  # (contact id, company id, at)

    def flush(self, db: sqlite3.Connection, outcome: Outcome) -> None:
        if self.deferred.numbers or self.deferred.texts:
            self.deferred.flush(db)
        if self.links:
            outcome.linked += db.executemany(
                "INSERT INTO association(kind, from_id, record_id, created_at) VALUES ('contact', ?, ?, ?)"
                " ON CONFLICT (kind, from_id, record_id) DO NOTHING", self.links).rowcount
            self.links.clear()

    def snapshot(self) -> tuple:
        keys = self.keys
        return dict(self.companies), (dict(keys.numbers), dict(keys.emails)) if keys else None

    def restore(self, kept: tuple) -> None:
        self.companies, numbers_emails = kept
        if self.keys and numbers_emails:
            self.keys.numbers, self.keys.emails = numbers_emails


def _write_contact(db: sqlite3.Connection, kind: str, row: _Row, outcome: Outcome, now: int,
                   region: str | None, state: _State) -> None:
    keys = state.keys
    assert keys is not None
    if row.id is not None:
        before = records.contact(db, row.id)
        if before is None:
            raise PropertyError(f"id: no contact {row.id}")
        target: int | None = row.id
    else:
        target = keys.find(row)
        before = records.contact(db, target) if target is not None else None
    fields = {k: v for k, v in row.values.items() if k in records.CONTACT_COLUMNS}
    props = {k: v for k, v in row.values.items() if k not in records.CONTACT_COLUMNS}
    if target is None and not (fields.get("name") or fields.get("phone") or fields.get("mobile")
                               or fields.get("email")):
        raise PropertyError("no name, phone, mobile or email: nothing to make a contact of")
    if target is not None:
        state.flush(db, outcome)  # an update may touch a contact made earlier in this batch: its rows first
    contact_id = records.save_contact(db, target, fields, props, now, region=region, log=False,
                                      deferred=state.deferred if target is None else None)
    keys.saved(db, contact_id, before, fields)
    if target is None:
        outcome.created += 1
    else:
        outcome.updated += 1
    for company in row.links.get("company", []):
        state.links.append((contact_id, _company(db, company, state.companies, now), now))


def _company(db: sqlite3.Connection, name: str, known: dict[str, int], now: int) -> int:
    """The company of that name (case-insensitive), made when there is none."""
    key = name.casefold()
    if key not in known:
        known[key] = records.record_by_name(db, "company", name) or records.save_record(
            db, "company", None, name, None, {}, now, log=False)
    return known[key]


def _write_record(db: sqlite3.Connection, kind: str, row: _Row, outcome: Outcome, now: int,
                  region: str | None, state: _State) -> None:
    if row.id is not None:
        known = records.record(db, row.id)
        if known is None or known.type != kind:
            raise PropertyError(f"id: no {kind} {row.id}")
        target: int | None = row.id
    else:
        if not row.values.get("name"):
            raise PropertyError("name: a record needs a name")
        target = records.record_by_name(db, kind, row.values["name"])
    props = {k: v for k, v in row.values.items() if k not in ("name", "owner")}
    # Links first: a key that finds nothing fails the row before it writes anything.
    contacts = []
    for key in row.links.get("contacts", []):
        found = (records.contact_by_email(db, key) if "@" in key else
                 int(key[1:]) if key.startswith("#") and key[1:].isdigit() else records.contact_by_number(db, key, region))
        if not found or records.contact(db, found) is None:
            raise PropertyError(f"contacts: no contact {key!r}")
        contacts.append(found)
    record_id = records.save_record(db, kind, target, row.values.get("name") if "name" in row.values else None,
                                    row.values.get("owner"), props, now, log=False)
    outcome.created += target is None
    outcome.updated += target is not None
    for company in row.links.get("company", []):
        outcome.linked += records.associate(db, "record", record_id, _company(db, company, state.companies, now),
                                            now, log=False)
    for contact_id in contacts:
        outcome.linked += records.associate(db, "contact", contact_id, record_id, now, log=False)


def export_rows(db: sqlite3.Connection, kind: str) -> Iterator[list[str]]:
    """The CSV of `kind`, header first: what run_import reads back to the same records."""
    kind = kind_of(kind, object_type_names(db))
    columns = columns_of(db, kind)
    yield columns
    if kind == "contact":
        companies = records.associations_of(db, "contact", "company")
        for c in records.contacts_for_export(db):
            values = {"id": str(c.id), "name": c.name, "phone": c.phone, "mobile": c.mobile, "email": c.email,
                      "owner": c.owner, "opt_in_source": c.opt_in_source, "opt_in_date": c.opt_in_date,
                      "company": ";".join(companies.get(c.id, [])), **c.props}
            yield [values.get(column) or "" for column in columns]
        return
    companies = records.associations_of(db, "record", "company")
    contacts = records.record_contact_keys(db)
    for r in records.records_for_export(db, kind):
        values = {"id": str(r.id), "name": r.name, "owner": r.owner, **r.props,
                  "company": ";".join(companies.get(r.id, [])), "contacts": ";".join(contacts.get(r.id, []))}
        yield [values.get(column) or "" for column in columns]


def write_csv(rows: Iterable[list[str]], out: io.TextIOBase) -> int:
    writer = csv.writer(out, lineterminator="\n")
    count = -1
    for count, row in enumerate(rows):
        writer.writerow(row)
    return max(count, 0)


def object_type_names(db: sqlite3.Connection) -> list[str]:
    return [t.name for t in records.object_types(db)]

