"""Records (issue 9): matching inbound numbers to stored phone/mobile properties in any format (F18), merging two
contacts without losing anything, CSV import (good rows land, each bad row reported, dry run writes nothing) and
export -> import round trips."""

from __future__ import annotations

import json

import pytest

from core.records import csvio
from core.records import db as records
from core.records.properties import Property, PropertyError, normalise
from core.records.service import Records
from tests.core.records_helpers import export_csv, fixture_text, import_csv, inbound, receive


async def contact_named(store, name: str) -> int:
    return await store.scalar("SELECT id FROM contact WHERE name = ?", (name,))


@pytest.mark.parametrize("column, stored, wa_id", [
    ("phone", "+48 601 234 567", "48601234567"),
    ("phone", "0048601234567", "48601234567"),
    ("mobile", "(+48) 601-234-567", "48601234567"),
    ("phone", "601 234 567", "48601234567"),                      # national, imported with --region PL
    ("mobile", "+52 55 1234 5678", "5215512345678"),              # Mexico: WhatsApp's id carries a 1
    ("phone", "+52 1 55 1234 5678", "5215512345678"),             # stored the WhatsApp way
    ("mobile", "5215512345678", "525512345678"),
    ("mobile", "+55 11 98765-4321", "551187654321"),              # Brazil: the wa_id lacks the ninth digit
    ("phone", "+55 11 8765-4321", "5511987654321"),               # stored without it, wa_id with it
])
async def test_an_inbound_message_joins_the_contact_whose_phone_or_mobile_matches(store, fixtures_dir, column,
                                                                                    stored, wa_id):
    header = f"name,{column}\n"
    outcome = await import_csv(store, "contacts", header + f"Stored Person,{stored}\n", region="PL")
    assert (outcome.created, outcome.problems) == (1, [])
    thread_id = await receive(store, inbound(fixtures_dir, wa_id))
    assert await store.scalar("SELECT count(*) FROM contact") == 1  # no duplicate made
    contact_id = await store.scalar("SELECT contact_id FROM thread WHERE id = ?", (thread_id,))
    assert contact_id == await contact_named(store, "Stored Person")


async def test_a_number_matching_no_contact_makes_one_from_the_profile(store, fixtures_dir):
    await import_csv(store, "contacts", "name,phone\nSomeone Else,+48 601 000 000\n")
    thread_id = await receive(store, inbound(fixtures_dir, "48601234567", name="Nowy Klient"))
    assert await store.scalar("SELECT c.name FROM thread t JOIN contact c ON c.id = t.contact_id WHERE t.id = ?",
                              (thread_id,)) == "Nowy Klient"


async def test_an_edited_phone_matches_from_then_on_and_the_old_one_no_longer(store, fixtures_dir):
    await import_csv(store, "contacts", "name,phone\nAnna,+48 601 000 000\n")
    anna = await contact_named(store, "Anna")
    await Records(store).edit("contact", anna, "phone", "+48 601 234 567")
    thread_id = await receive(store, inbound(fixtures_dir, "48601234567"))
    assert await store.scalar("SELECT contact_id FROM thread WHERE id = ?", (thread_id,)) == anna
    other = await receive(store, inbound(fixtures_dir, "48601000000", name="Someone"))
    assert await store.scalar("SELECT contact_id FROM thread WHERE id = ?", (other,)) != anna


async def test_merging_two_contacts_moves_everything_and_records_it(store, fixtures_dir):
    await import_csv(store, "contacts", fixture_text("contacts.csv"))
    await import_csv(store, "deals", fixture_text("deals.csv"))
    anna, jan = await contact_named(store, "Anna Kowalska"), await contact_named(store, "Jan Wiśniewski")
    # Jan wrote on WhatsApp from his mobile, and is given a custom property.
    jan_thread = await receive(store, inbound(fixtures_dir, "48503111222"))
    assert await store.scalar("SELECT contact_id FROM thread WHERE id = ?", (jan_thread,)) == jan
    await store.write(records.define_type, "contact", "Contacts", [Property("shoe_size", "number")])
    service = Records(store)
    await service.edit("contact", jan, "shoe_size", "44")
    deal = await store.scalar("SELECT id FROM record WHERE name = 'Taco truck fleet'")
    await service.associate("contact", jan, deal)
    before = await service.contact_page(jan)

    await service.merge(anna, jan, agent="ola")

    assert await store.scalar("SELECT count(*) FROM contact WHERE id = ?", (jan,)) == 0
    page = await service.contact_page(anna)
    assert page.threads == [jan_thread]
    assert {r.name for r in page.records} >= {r.name for r in before.records} | {"Baltic cruise 2025"}
    assert page.contact.mobile == "+48 503 111 222" and page.contact.props == {"shoe_size": "44"}
    assert page.contact.email == "anna@bursztyn.pl" and page.contact.phone == "+48 601 234 567"
    [merge] = page.merges
    assert (merge["merged_id"], merge["agent"]) == (jan, "ola")
    assert merge["merged"]["contact"]["email"] == "jan@bursztyn.pl"  # the value Anna's own email kept out
    assert merge["merged"]["contact"]["phone"] == "0048 602 345 678"
    # Jan's numbers still find the merged contact: his phone, and his WhatsApp mobile.
    for wa_id in ("48602345678", "48503111222"):
        thread_id = await receive(store, inbound(fixtures_dir, wa_id))
        assert await store.scalar("SELECT contact_id FROM thread WHERE id = ?", (thread_id,)) == anna
    assert (await Records(store).rows("contact", "shoe", 0, 10)) == []
    assert [r.id for r in await Records(store).rows("contact", "44", 0, 10)] == [anna]


async def test_import_lands_the_good_rows_and_reports_each_bad_one_with_its_line(store):
    outcome = await import_csv(store, "contacts", fixture_text("contacts.csv"))
    assert (outcome.created, outcome.updated) == (4, 0)
    assert [str(p) for p in outcome.problems] == [
        "line 6: phone: bad phone '12345' (write it with its country code, e.g. +48 601 234 567)",
        "line 7: opt_in_date: unparseable date '31/02/2025' (write it as 2025-03-31)",
        "line 8: email: bad email 'not-an-email'"]
    names = [r["name"] for r in await store.fetchall("SELECT name FROM contact ORDER BY id")]
    assert names == ["Anna Kowalska", "Jan Wiśniewski", "María López", "João Silva"]
    assert await store.scalar("SELECT count(*) FROM contact WHERE email IN ('bad@example.com', 'date@example.com',"
                              " 'not-an-email')") == 0
    companies = {r["name"] for r in await store.fetchall("SELECT name FROM record WHERE type = 'company'")}
    assert companies == {"Bursztyn Rejsy", "Tacos del Norte", "Café Paulista"}

    deals = await import_csv(store, "deals", fixture_text("deals.csv"))
    assert deals.created == 2 and [(p.line, p.reason.split(":")[0]) for p in deals.problems] == [
        (4, "stage"), (5, "amount")]
    page = await Records(store).contact_page(await contact_named(store, "Anna Kowalska"))
    assert {(r.type, r.name) for r in page.records} == {("company", "Bursztyn Rejsy"), ("deal", "Baltic cruise 2025")}
    cruise = next(r for r in page.records if r.type == "deal")
    assert cruise.props == {"pipeline": "sales", "stage": "contract sent", "amount": "12500.5",
                            "close_date": "2025-06-30"}


async def test_a_row_whose_key_finds_nothing_changes_nothing(store):
    await import_csv(store, "contacts", "name,email\nAnna,anna@example.com\n")
    outcome = await import_csv(store, "deals", "name,contacts,company\nDeal A,nobody@example.com,New Co\n"
                                               "Deal B,anna@example.com,Other Co\n")
    assert [str(p) for p in outcome.problems] == ["line 2: contacts: no contact 'nobody@example.com'"]
    assert {r["name"] for r in await store.fetchall("SELECT name FROM record")} == {"Deal B", "Other Co"}


async def test_a_dry_run_reports_the_same_and_writes_nothing(store):
    await import_csv(store, "contacts", "name,phone\nAnna Kowalska,+48 601 234 567\n")
    before = await export_csv(store, "contacts")
    seq = await store.last_change_seq()
    dry = await import_csv(store, "contacts", fixture_text("contacts.csv"), dry_run=True)
    assert (dry.created, dry.updated, len(dry.problems)) == (3, 1, 3)  # Anna is found by her number
    assert await export_csv(store, "contacts") == before
    assert await store.scalar("SELECT count(*) FROM record") == 0
    assert await store.last_change_seq() == seq
    real = await import_csv(store, "contacts", fixture_text("contacts.csv"))
    assert (real.created, real.updated, [str(p) for p in real.problems]) == (3, 1, [str(p) for p in dry.problems])


async def test_update_or_create_by_id_phone_and_email(store):
    await import_csv(store, "contacts", "name,phone,email\nAnna,+48 601 234 567,anna@example.com\n")
    anna = await contact_named(store, "Anna")
    outcome = await import_csv(store, "contacts", "Name,Tel,E-mail\nAnna K.,0048601234567,\n"
                                                  "Anna Kowalska,,ANNA@example.com\n")
    assert (outcome.created, outcome.updated) == (0, 2)
    outcome = await import_csv(store, "contacts", f"id,owner\n{anna},ola\n999,ola\n")
    assert [str(p) for p in outcome.problems] == ["line 3: id: no contact 999"]
    assert (await store.fetchone("SELECT name, owner FROM contact"))[:] == ("Anna Kowalska", "ola")


async def test_the_mapping_is_guessed_from_the_header_and_can_be_overridden(store):
    text = "Kontakt,Telefon,Notes\nAnna,+48 601 234 567,VIP\n"
    with pytest.raises(csvio.CsvRefused, match="no id, name, phone, mobile or email column"):
        await import_csv(store, "contacts", text)  # nothing known: refused as a whole before any row
    assert await store.scalar("SELECT count(*) FROM contact") == 0
    outcome = await import_csv(store, "contacts", text, overrides={"Kontakt": "name", "Telefon": "phone",
                                                                    "Notes": ""})
    assert outcome.created == 1 and outcome.mapping == {"Kontakt": "name", "Telefon": "phone"}


async def test_export_then_import_is_a_round_trip(store, tmp_path):
    from core.store import Store

    await store.write(records.define_type, "contact", "Contacts", [Property("tier", "enum", ("gold", "silver"))])
    await store.write(records.define_type, "vessel", "Vessels", [Property("berths", "number")])
    await import_csv(store, "contacts", fixture_text("contacts.csv") + ",,,,,,,\n")
    await import_csv(store, "companies", fixture_text("companies.csv"))
    await import_csv(store, "deals", fixture_text("deals.csv"))
    await import_csv(store, "vessel", "name,berths,company\nAmber Star,120,Bursztyn Rejsy\n")
    await Records(store).edit("contact", 1, "tier", "Gold")
    exported = {kind: await export_csv(store, kind) for kind in ("contact", "company", "deal", "vessel")}
    assert exported["contact"][1][-1] == "gold"

    # Into the same database: every row is found by its id and nothing changes.
    for kind, rows in exported.items():
        text = "\n".join(",".join(f'"{c}"' for c in row) for row in rows) + "\n"
        outcome = await import_csv(store, kind, text)
        assert (outcome.created, outcome.problems) == (0, [])
        assert await export_csv(store, kind) == rows

    # Into an empty database (without the id column): the same records come out.
    other = await Store.open(tmp_path / "other.db")
    try:
        await other.write(records.define_type, "contact", "Contacts", [Property("tier", "enum", ("gold", "silver"))])
        await other.write(records.define_type, "vessel", "Vessels", [Property("berths", "number")])
        for kind in ("contact", "company", "deal", "vessel"):
            text = "\n".join(",".join(f'"{c}"' for c in row) for row in exported[kind]) + "\n"
            await import_csv(other, kind, text, overrides={"id": ""})
        for kind in ("contact", "company", "deal", "vessel"):
            again = await export_csv(other, kind)
            assert [row[1:] for row in again] == [row[1:] for row in exported[kind]], kind
    finally:
        await other.close()


@pytest.mark.parametrize("prop, raw, stored", [
    (Property("amount", "number"), "12 500,50", "12500.5"),
    (Property("amount", "number"), "80000.00", "80000"),
    (Property("close", "date"), "31.03.2025", "2025-03-31"),
    (Property("stage", "enum", ("closed won", "closed lost")), "Closed Won", "closed won"),
    (Property("email", "email"), "Anna@Example.COM", "anna@example.com"),
    (Property("phone", "phone"), "+48 601 234 567", "+48 601 234 567"),
])
def test_property_values_are_stored_in_one_spelling(prop, raw, stored):
    assert normalise(prop, raw) == stored


@pytest.mark.parametrize("prop, raw, reason", [
    (Property("amount", "number"), "lots", "'lots' is not a number"),
    (Property("amount", "number"), "nan", "'nan' is not a number"),
    (Property("close", "date"), "2025-02-30", "unparseable date"),
    (Property("stage", "enum", ("won", "lost")), "maybe", "unknown value 'maybe' (one of: won, lost)"),
    (Property("email", "email"), "anna@", "bad email"),
    (Property("phone", "phone"), "+48 12", "bad phone"),
])
def test_bad_property_values_are_refused_with_the_reason(prop, raw, reason):
    with pytest.raises(PropertyError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        normalise(prop, raw)


async def test_search_finds_contacts_by_name_number_email_and_property(store):
    await import_csv(store, "contacts", fixture_text("contacts.csv"))
    service = Records(store)
    for query, expected in [("kowalska", ["Anna Kowalska"]), ("wisniewski", ["Jan Wiśniewski"]),
                            ("601234567", ["Anna Kowalska"]), ("48503111", ["Jan Wiśniewski"]),
                            ("maria@tacos", ["María López"]), ("ola", ["Anna Kowalska"]),
                            ("web form", ["Anna Kowalska"])]:
        assert [r.title for r in await service.rows("contact", query, 0, 10)] == expected, query
    assert await service.count("contact", "bursztyn.pl") == 2
    assert json.loads(json.dumps([r.title for r in await service.rows("company", "gdansk", 0, 10)])) == []


async def test_a_big_import_reads_the_contact_keys_once_not_once_per_row(store):
    """100,000 rows in seconds: the phones, mobiles and emails rows are matched by are read once, not looked up
    row by row; and what the batch writes at its end (numbers, search text, company links) is all there."""
    rows = "".join(f"Person {i},+48 601 {i:06d},{'+48 511 %06d' % i if i % 3 == 0 else ''},p{i}@example.com,"
                   f"Company {i % 5},agent{i % 7}\n" for i in range(600))
    text = "name,phone,mobile,email,company,owner\n" + rows
    selects: list[str] = []

    class Counting:
        """The store's connection, noting every SELECT the import sends (whichever the backend)."""

        def __init__(self, conn) -> None:
            self.conn = conn

        def __getattr__(self, name):
            return getattr(self.conn, name)

        def execute(self, sql, *args):
            if sql.lstrip().upper().startswith("SELECT") and "pg_advisory_xact_lock" not in sql:
                selects.append(sql)
            return self.conn.execute(sql, *args)

    def run(conn):
        return csvio.run_import(Counting(conn), "contacts", text, overrides={}, region=None, dry_run=False, now=1)

    outcome = await store.run(run)
    assert (outcome.created, outcome.linked, outcome.problems) == (600, 600, [])
    assert len(selects) < 60, selects[:20]  # the keys, the object types, a look-up per company: not per row
    service = Records(store)
    for query, expected in [("601000599", ["Person 599"]), ("48511000300", ["Person 300"]), ("p42@example", ["Person 42"])]:
        assert [r.title for r in await service.rows("contact", query, 0, 10)] == expected, query
    assert await service.count("contact", "agent3") == len([i for i in range(600) if i % 7 == 3])
    assert await store.scalar("SELECT count(*) FROM association a JOIN record r ON r.id = a.record_id"
                              " WHERE a.kind = 'contact' AND r.name = 'Company 2'") == 120
    # The same file again: every row found by its number (none made twice), an inbound message finds its contact.
    again = await import_csv(store, "contacts", text)
    assert (again.created, again.updated, again.linked) == (0, 600, 0)
    assert await records_by_number(store, "+48 511 000 300") == ["Person 300"]


async def records_by_number(store, number: str) -> list[str]:
    found = await store.run(lambda conn: records.contact_by_number(conn, number))
    return [await store.scalar("SELECT name FROM contact WHERE id = ?", (found,))] if found else []
