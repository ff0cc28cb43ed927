"""A customer's message newer than anything in an open thread updates the thread in one statement (core.ingest);
the thread must end exactly as the general path leaves it, whatever order the webhooks arrive in."""

from __future__ import annotations

import itertools

from core.ingest import refresh_session
from core.model import SESSION_SECONDS
from core.store import Store
from core.store.threads import refresh_thread_summary
from tests.core.ingest_helpers import add_outbound, apply, load

THREAD = ("SELECT status, closed_at, unread, has_attachment, last_inbound_at, last_message_at, last_direction, preview"
          " FROM thread")


def message(fixtures_dir, wamid: str, at: int, text: str) -> dict:
    body = load(fixtures_dir, "text.json")
    body["entry"][0]["changes"][0]["value"]["messages"][0].update(id=wamid, timestamp=str(at), text={"body": text})
    return body


async def test_the_thread_ends_the_same_whatever_order_its_messages_come_in(db_target, fixtures_dir):
    bodies = [message(fixtures_dir, "wamid.1", 1795519200, "pierwsza"),
              message(fixtures_dir, "wamid.2", 1795519300, "druga"),
              message(fixtures_dir, "wamid.3", 1795519300, "trzecia, ta sama sekunda"),
              load(fixtures_dir, "image_with_caption.json")]
    outcomes = set()
    for order in itertools.permutations(bodies):
        store = await Store.open(db_target)
        try:
            await store.write(lambda db: [db.execute(f"DELETE FROM {t}") for t in (
                "message", "thread_digits", "assignment_queue", "thread", "contact_number", "contact_user_id",
                "contact", "change_log")])
            for body in order:  # one webhook at a time, as they come (two of them in the same second)
                await apply(store, body)
            outcomes.add(tuple(tuple(r) for r in await store.fetchall(THREAD)))
        finally:
            await store.close()
    [(thread,)] = outcomes  # one outcome for all 24 orders
    assert thread[:3] == ("open", None, 4) and thread[6] == "in"


async def test_a_closed_thread_reopened_by_its_customer_is_queued_at_its_last_message_before(store, fixtures_dir):
    await apply(store, message(fixtures_dir, "wamid.1", 1795519200, "pierwsza"))
    await store.write(lambda db: (db.execute("UPDATE thread SET status = 'closed', closed_at = 1795519250"),
                                  db.execute("DELETE FROM assignment_queue")))
    await apply(store, message(fixtures_dir, "wamid.2", 1795519300, "wracam"))
    assert [tuple(r) for r in await store.fetchall("SELECT reason, since FROM assignment_queue")] == [
        ("reopened", 1795519200)]
    assert [tuple(r) for r in await store.fetchall("SELECT status, closed_at, unread, preview FROM thread")] == [
        ("open", None, 2, "wracam")]


async def test_a_message_after_our_refused_reply_leaves_the_thread_as_its_messages_say(db_target, fixtures_dir):
    """The one-statement path names only the columns that change: after our reply (last_direction 'out') and a
    send Meta refused with 131047, the customer's newer message must still turn the direction, move the session
    anchor as the general path derives it, and keep the view counts' tally right."""
    store = await Store.open(db_target)
    try:
        await apply(store, message(fixtures_dir, "wamid.1", 1795519200, "pierwsza"))
        thread_id = await store.scalar("SELECT id FROM thread")
        await add_outbound(store, thread_id, "wamid.out", at=1795519300)
        await store.write(lambda db: (
            db.execute("UPDATE message SET status = 'failed', status_at = 1795519350, error_code = 131047"
                       " WHERE wamid = 'wamid.out'"),
            refresh_session(db, thread_id), refresh_thread_summary(db, thread_id)))
        assert await store.scalar("SELECT last_direction FROM thread") == "out"
        await apply(store, message(fixtures_dir, "wamid.2", 1795519320, "jeszcze raz"))
        fast = tuple(await store.fetchone(THREAD))

        def derived(db) -> tuple:  # what the general path makes of the same messages
            refresh_session(db, thread_id)
            refresh_thread_summary(db, thread_id)
            return tuple(db.execute(THREAD).fetchone())
        assert fast == await store.write(derived)
        assert fast[4] == 1795519350 - SESSION_SECONDS and fast[6] == "in"  # written before the refusal came
        assert [tuple(r) for r in await store.fetchall(
            "SELECT status, last_direction, n FROM thread_tally WHERE n > 0")] == [("open", "in", 1)]
    finally:
        await store.close()
