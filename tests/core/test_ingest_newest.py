"""A customer's message newer than anything in an open thread updates the thread in one statement (core.ingest);
the thread must end exactly as the general path leaves it, whatever order the webhooks arrive in."""

from __future__ import annotations

import itertools

from core.store import Store
from tests.core.ingest_helpers import apply, load

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
