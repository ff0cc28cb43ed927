"""`wabox threads` / `wabox thread` as a script would call them: JSON shapes, filters, neutralised plain text."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from core.store import Store
from tests.core.ingest_helpers import add_outbound, apply, load


@pytest.fixture
def db(db_target, fixtures_dir):
    path = db_target

    async def seed():
        store = await Store.open(path)
        names = ["text.json", "image_with_caption.json", "document.json", "audio_voice.json", "unsupported.json",
                 "batch_multiple_messages.json"]
        await apply(store, *(load(fixtures_dir, n) for n in names))
        await add_outbound(store, 1, "wamid.HBgLNDg2MDEyMzQ1NjcVAgARGBJBMzg4QUJDRDFDRkE2N0ZERkQA")
        await apply(store, load(fixtures_dir, "status_sent.json"), load(fixtures_dir, "status_delivered.json"))
        hostile = load(fixtures_dir, "text.json")
        value = hostile["entry"][0]["changes"][0]["value"]
        value["contacts"][0].update(wa_id="48500100200", user_id="PL.1", profile={"name": "Evil\x1b]8;;http://x\x1b\\[bold]"})
        value["messages"][0].update(id="wamid.EVIL", from_user_id="PL.1", text={"body": "hi \x1b[2J\x1b[31mred\u202e"},
                                    **{"from": "48500100200"})
        await apply(store, hostile)
        def assign_and_close(conn):
            conn.execute("UPDATE thread SET owner = 'kasia' WHERE wa_id = '4915112345678'")
            conn.execute("UPDATE thread SET status = 'closed' WHERE wa_id = '48698765432'")
        await store.write(assign_and_close)
        await store.close()

    asyncio.run(seed())
    return path


def wabox(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WABOX_CONFIG": "", "USER": "kasia"}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def test_threads_json_has_the_documented_fields(db):
    result = wabox("threads", "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr
    threads = json.loads(result.stdout)
    anna = next(t for t in threads if t["contact"]["wa_id"] == "48601234567")
    assert anna["status"] == "open" and anna["channel"] == "209837465112233"
    assert anna["contact"] == {"id": anna["contact"]["id"], "name": "Anna Kowalska", "wa_id": "48601234567",
                               "user_id": "PL.4718290356123874", "e164": "+48601234567"}
    assert anna["session_expires_at"] == anna["last_inbound_at"] + 86400
    assert isinstance(anna["last_message_at"], int) and anna["unread"] == 4
    assert "48698765432" not in {t["contact"]["wa_id"] for t in threads if t["channel"] == "209837465998877"}


@pytest.mark.parametrize("view, expected", [
    ("closed", {"48698765432"}),
    ("mine", {"4915112345678"}),
])
def test_threads_views(db, view, expected):
    result = wabox("threads", "--db", str(db), "--json", "--view", view)
    assert {t["contact"]["wa_id"] for t in json.loads(result.stdout)} == expected


def test_threads_search_finds_message_text_and_contact_names(db):
    by_text = json.loads(wabox("threads", "--db", str(db), "--json", "--search", "doniczka").stdout)
    assert [t["contact"]["wa_id"] for t in by_text] == ["48601234567"]
    by_name = json.loads(wabox("threads", "--db", str(db), "--json", "--search", "Müller").stdout)
    assert [t["contact"]["wa_id"] for t in by_name] == ["4915112345678"]
    odd = wabox("threads", "--db", str(db), "--json", "--search", 'AND OR "(*')  # FTS syntax is not ours to run
    assert odd.returncode == 0 and json.loads(odd.stdout) == []


def test_thread_json_has_messages_with_statuses_and_media(db):
    threads = json.loads(wabox("threads", "--db", str(db), "--json").stdout)
    anna = next(t for t in threads if t["contact"]["wa_id"] == "48601234567")
    detail = json.loads(wabox("thread", str(anna["id"]), "--db", str(db), "--json").stdout)
    by_type = {m["type"]: m for m in detail["messages"]}
    first = detail["messages"][0]
    assert first["direction"] == "in" and first["text"].startswith("Dzień dobry, czy zamówienie nr 1043")
    out = next(m for m in detail["messages"] if m["direction"] == "out")
    assert out["status"] == "delivered"
    assert [s["status"] for s in out["status_history"]] == ["sent", "delivered"]
    assert by_type["image"]["media"]["mime_type"] == "image/jpeg"
    assert by_type["image"]["media"]["download_error"] is None and not by_type["image"]["media"]["download_retrying"]
    assert all({"wamid", "timestamp", "quarantined"} <= m.keys() for m in detail["messages"])


def test_plain_output_is_aligned_and_neutralised(db):
    result = wabox("threads", "--db", str(db))
    assert result.returncode == 0
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    assert "Evil␛]8;;http://x␛\\[bold" in result.stdout  # visible, cut to the column width
    header, *rows = result.stdout.splitlines()
    assert header.split()[:3] == ["ID", "CONTACT", "NUMBER"]
    threads = json.loads(wabox("threads", "--db", str(db), "--json").stdout)
    evil = next(t for t in threads if t["contact"]["wa_id"] == "48500100200")
    detail = wabox("thread", str(evil["id"]), "--db", str(db))
    assert "\x1b" not in detail.stdout and "␛[2J" in detail.stdout


def test_a_missing_thread_is_a_clear_error(db):
    result = wabox("thread", "999", "--db", str(db))
    assert result.returncode == 1 and result.stderr == "wabox: no thread 999\n"


def test_thread_status_and_session_are_named_apart_in_json_and_text(db):
    """A closed thread is `status: closed`; a customer silent for over 24 h is `session: expired` (issue 7, #13)."""
    threads = [t for view in ("open", "closed")
               for t in json.loads(wabox("threads", "--db", str(db), "--json", "--view", view).stdout)]
    assert {t["status"] for t in threads} == {"open", "closed"}
    assert {t["session"] for t in threads} == {"expired"}  # the fixtures' customers wrote long ago
    text = wabox("threads", "--db", str(db), "--view", "closed").stdout
    assert text.splitlines()[0].split()[3:5] == ["STATUS", "SESSION"]
    closed = next(line for line in text.splitlines() if "48698765432" in line)
    assert " closed " in closed and " expired " in closed
    one = wabox("thread", "--db", str(db), str(threads[0]["id"])).stdout.splitlines()[0]
    assert "(thread open · session expired)" in one


def test_thread_shows_metas_reason_edits_deletions_and_flow_answers(db_target, fixtures_dir):
    path = db_target

    async def seed():
        store = await Store.open(path)
        await apply(store, *(load(fixtures_dir, n) for n in ("unsupported.json", "text.json", "edit_text.json",
                                                              "revoke.json", "interactive_nfm_reply.json")))
        await store.close()

    asyncio.run(seed())
    threads = {t["contact"]["name"]: t["id"] for t in json.loads(wabox("threads", "--db", str(path), "--json").stdout)}
    tomasz = wabox("thread", str(threads["Tomasz Wiśniewski"]), "--db", str(path)).stdout
    assert "[(131051) Message type unknown — Message type is currently not supported.]" in tomasz
    anna = wabox("thread", str(threads["Anna Kowalska"]), "--db", str(path)).stdout
    assert "[deleted by the customer] Dzień dobry, czy zamówienie nr 1044 zostało już wysłane? [edited]" in anna
    maria = wabox("thread", str(threads["Maria Nowak"]), "--db", str(path), "--json").stdout
    [flow] = json.loads(maria)["messages"]
    assert flow["text"].startswith("termin: 2026-12-03\nadres: ul. Łódzka 5\n")
    plain = wabox("thread", str(threads["Maria Nowak"]), "--db", str(path)).stdout
    assert "termin: 2026-12-03" in plain and "\x1b" not in plain


def test_threads_search_refuses_a_broad_or_broken_query_in_one_line(db):
    broad = wabox("threads", "--db", str(db), "--search", " ".join(["word"] * 3000))
    assert broad.returncode == 2 and "query too broad" in broad.stderr and "Traceback" not in broad.stderr
    env = {**os.environ, "WABOX_CONFIG": "", "USER": "kasia"}
    broken = subprocess.run([sys.executable, "-m", "app.cli", "threads", "--db", str(db), "--search", b"Micha\xc5"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert broken.returncode == 2 and "not valid UTF-8" in broken.stderr and "Traceback" not in broken.stderr
    folded = json.loads(wabox("threads", "--db", str(db), "--json", "--search", "Muller").stdout)
    assert [t["contact"]["name"] for t in folded] == ["Jan Müller"]
