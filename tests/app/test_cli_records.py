"""The records commands as a person runs them: wabox import (bad rows on stderr with their lines, exit 1, the good
rows land; --dry-run; --map), export (the same shape, round trip), contacts list/show/merge, objects, and
send --to-contact with the opt-in rule (F30)."""

from __future__ import annotations

import asyncio
import csv
import io
import json

import pytest

from app.cli import main
from core.store import Store
from tests.core.records_helpers import RECORDS_FIXTURES

NUMBER = "209837465112233"


@pytest.fixture
def env(db_target, tmp_path, monkeypatch):
    db = db_target

    async def setup() -> None:
        store = await Store.open(db)
        await store.write(lambda conn: conn.execute(
            "INSERT INTO channel(phone_number_id, waba_id, name, display_phone_number, health)"
            " VALUES (?, 'w', 'Sklep', '48221234567', 'ok')", (NUMBER,)))
        await store.write(lambda conn: conn.execute(
            "INSERT INTO template(id, waba_id, name, language, status, components, synced_at)"
            " VALUES ('t1', 'w', 'hello', 'pl_PL', 'APPROVED', '[{\"type\": \"BODY\", \"text\": \"Dzień dobry\"}]', 0)"))
        await store.close()

    asyncio.run(setup())
    config = tmp_path / "config.toml"
    config.write_text("")
    monkeypatch.setenv("WABOX_CONFIG", str(config))
    monkeypatch.setenv("WABOX_DB", str(db))
    return db


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def fixture(name: str) -> str:
    return str(RECORDS_FIXTURES / name)


def test_import_reports_each_bad_row_with_its_line_and_lands_the_good_ones(env, capsys):
    code, out, err = run(capsys, "import", "contacts", fixture("contacts.csv"), "--dry-run")
    assert code == 1 and "(dry run: nothing written)" in out
    assert run(capsys, "contacts", "list", "--json")[1].strip() == "[]"

    code, out, err = run(capsys, "import", "contacts", fixture("contacts.csv"))
    assert code == 1
    assert out.strip() == "4 created, 0 updated, 4 links made, 3 bad rows left out"
    assert err.splitlines() == [
        "wabox: line 6: phone: bad phone '12345' (write it with its country code, e.g. +48 601 234 567)",
        "wabox: line 7: opt_in_date: unparseable date '31/02/2025' (write it as 2025-03-31)",
        "wabox: line 8: email: bad email 'not-an-email'",
        "wabox: 3 rows were refused (see above); the good rows landed"]
    listed = json.loads(run(capsys, "contacts", "list", "--json")[1])
    assert [c["name"] for c in listed] == ["Anna Kowalska", "Jan Wiśniewski", "João Silva", "María López"]
    assert run(capsys, "import", "companies", fixture("companies.csv"))[0] == 0  # updates the two made by name
    assert [c["name"] for c in json.loads(run(capsys, "companies", "list", "--json", "--search", "gdansk")[1])] == [
        "Bursztyn Rejsy"]


def test_a_contacts_json_lists_phones_company_and_records_and_a_merge_is_kept(env, capsys):
    run(capsys, "import", "contacts", fixture("contacts.csv"))
    run(capsys, "import", "deals", fixture("deals.csv"))
    anna = json.loads(run(capsys, "contacts", "list", "--json", "--search", "anna@bursztyn.pl")[1])[0]["id"]
    jan = json.loads(run(capsys, "contacts", "list", "--json", "--search", "jan@bursztyn.pl")[1])[0]["id"]
    shown = json.loads(run(capsys, "contacts", "show", str(anna), "--json")[1])
    assert shown["phones"] == [{"kind": "phone", "number": "+48 601 234 567"}]
    assert shown["company"] == "Bursztyn Rejsy" and shown["whatsapp_opt_in"] == {"source": "web form",
                                                                                  "date": "2025-03-01"}
    assert {(r["type"], r["name"]) for r in shown["records"]} == {("company", "Bursztyn Rejsy"),
                                                                  ("deal", "Baltic cruise 2025")}
    code, out, _ = run(capsys, "contacts", "merge", str(anna), str(jan))
    assert code == 0 and out.strip() == f"contact {jan} merged into {anna}"
    merged = json.loads(run(capsys, "contacts", "show", str(anna), "--json")[1])
    assert merged["phones"][1] == {"kind": "mobile", "number": "+48 503 111 222"}
    assert merged["merged"][0]["contact"] == jan and merged["merged"][0]["agent"]
    code, _, err = run(capsys, "contacts", "show", str(jan))
    assert code == 1 and f"no contact {jan}" in err


def test_export_writes_what_import_reads_back(env, capsys, tmp_path):
    run(capsys, "objects", "define", "vessel", "--property", "berths:number", "--property", "flag:enum:PL|MT")
    run(capsys, "import", "contacts", fixture("contacts.csv"))
    run(capsys, "import", "deals", fixture("deals.csv"))
    vessels = tmp_path / "vessels.csv"
    vessels.write_text("Ship,Berths,Flag,Company\nAmber Star,120,mt,Bursztyn Rejsy\nNo Flag,12,XX,\n")
    code, out, err = run(capsys, "import", "vessel", str(vessels), "--map", "Ship=name")
    assert code == 1 and "line 3: flag: unknown value 'XX' (one of: PL, MT)" in err
    for kind in ("contacts", "deals", "vessel"):
        code, exported, _ = run(capsys, "export", kind)
        assert code == 0
        path = tmp_path / f"{kind}.csv"
        path.write_text(exported)
        code, out, err = run(capsys, "import", kind, str(path))
        assert (code, err) == (0, "") and out.startswith("0 created, ")
        assert run(capsys, "export", kind)[1] == exported
    rows = list(csv.reader(io.StringIO(run(capsys, "export", "vessel")[1])))
    assert rows == [["id", "name", "owner", "berths", "flag", "company", "contacts"],
                    [rows[1][0], "Amber Star", "", "120", "MT", "Bursztyn Rejsy", ""]]


def test_send_to_a_contact_without_opt_in_is_refused_unless_forced(env, capsys):
    run(capsys, "import", "contacts", fixture("contacts.csv"))
    ids = {c["name"]: c["id"] for c in json.loads(run(capsys, "contacts", "list", "--json")[1])}
    code, out, err = run(capsys, "send", "--from", NUMBER, "--to-contact", str(ids["Jan Wiśniewski"]),
                         "--template", "hello", "--lang", "pl_PL")
    assert code == 1 and "Jan Wiśniewski has no WhatsApp opt-in on record" in err and out == ""
    code, out, err = run(capsys, "send", "--from", NUMBER, "--to-contact", str(ids["Jan Wiśniewski"]),
                         "--template", "hello", "--lang", "pl_PL", "--force")
    assert code == 0 and out.strip().isdigit()
    code, out, err = run(capsys, "send", "--from", NUMBER, "--to-contact", str(ids["Anna Kowalska"]),
                         "--template", "hello", "--lang", "pl_PL")
    assert code == 0  # Anna opted in (web form, 2025-03-01)
    threads = {t["contact"]["name"]: t for t in json.loads(run(capsys, "threads", "--json")[1])}
    # Jan is written to on his mobile (the WhatsApp number is the mobile's, else the phone's).
    assert threads["Jan Wiśniewski"]["contact"]["wa_id"] == "48503111222"
    assert threads["Anna Kowalska"]["contact"]["wa_id"] == "48601234567"
    shown = json.loads(run(capsys, "contacts", "show", str(ids["Anna Kowalska"]), "--json")[1])
    assert shown["threads"] == [threads["Anna Kowalska"]["id"]]
