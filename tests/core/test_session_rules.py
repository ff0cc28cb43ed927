"""The 24-hour window as Meta keeps it: no sessions from the future, a safety margin, 131047 believed at once."""

from __future__ import annotations

import pytest

from core import policy, sending
from core.ingest import ingest
from core.model import SESSION_SECONDS
from core.sending import ReplyRefused
from core.webhooks import StatusUpdate
from tests.core.ingest_helpers import CHANNEL_A, NOW, add_outbound, apply, load

TOMASZ_AUDIO_AT = 1795520700
OUR_WAMID = "wamid.HBgLNDg1MTIzNDU2NzgVAgARGBJGOTExNjU1NDRFMEE0QUVBQzIA"  # status_failed_131047.json's message


async def test_a_timestamp_from_the_future_is_taken_as_the_time_it_arrived(store, fixtures_dir):
    body = load(fixtures_dir, "text.json")
    body["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = str(NOW + 30 * 86400)
    await apply(store, body, now=NOW)
    thread = await store.fetchone("SELECT last_inbound_at, last_message_at FROM thread")
    assert tuple(thread) == (NOW, NOW)
    assert policy.session_left(thread["last_inbound_at"], NOW) == SESSION_SECONDS  # not 744 h
    assert await store.scalar("SELECT timestamp FROM message") == NOW


async def test_a_clock_a_little_ahead_is_trusted(store, fixtures_dir):
    body = load(fixtures_dir, "text.json")
    body["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = str(NOW + 120)
    await apply(store, body, now=NOW)
    assert await store.scalar("SELECT last_inbound_at FROM thread") == NOW + 120


@pytest.mark.parametrize("before_close, allowed", [(301, True), (300, False), (1, False)])
def test_free_form_stops_five_minutes_before_the_window_closes(before_close, allowed):
    last = 1_795_519_200
    now = last + SESSION_SECONDS - before_close
    assert policy.freeform_open(last, now) is allowed
    assert policy.session_open(last, now) is True  # Meta's window itself is still open


async def test_a_reply_in_the_last_five_minutes_is_refused_with_the_reason(store, fixtures_dir):
    await apply(store, load(fixtures_dir, "text.json"))
    late = 1795519200 + SESSION_SECONDS - 200
    with pytest.raises(ReplyRefused, match="closes in under 5 minutes"):
        await sending.queue_text(store, 1, "Już sprawdzam", agent="kasia", now=late)
    assert await store.scalar("SELECT count(*) FROM outbox") == 0


async def thread_with_failed_reply(store, fixtures_dir, failed_at: int) -> int:
    await apply(store, load(fixtures_dir, "audio_voice.json"))  # Tomasz writes: the session opens
    await add_outbound(store, 1, OUR_WAMID, at=TOMASZ_AUDIO_AT + 100)
    status = load(fixtures_dir, "status_failed_131047.json")
    status["entry"][0]["changes"][0]["value"]["statuses"][0]["timestamp"] = str(failed_at)
    await apply(store, status)
    return await store.scalar("SELECT last_inbound_at FROM thread")


async def test_a_131047_failure_makes_the_thread_template_only_at_once(store, fixtures_dir):
    failed_at = TOMASZ_AUDIO_AT + 3600  # our clock says 23 h are left; Meta says the window is shut
    anchor = await thread_with_failed_reply(store, fixtures_dir, failed_at)
    assert not policy.session_open(anchor, failed_at + 1)
    with pytest.raises(ReplyRefused, match="only an approved template"):
        await sending.queue_text(store, 1, "Halo?", agent="kasia", now=failed_at + 60)


async def test_a_customer_message_after_the_131047_opens_a_new_session(store, fixtures_dir):
    failed_at = TOMASZ_AUDIO_AT + 3600
    await thread_with_failed_reply(store, fixtures_dir, failed_at)
    again = load(fixtures_dir, "audio_voice.json")
    again["entry"][0]["changes"][0]["value"]["messages"][0].update(id="wamid.AGAIN", timestamp=str(failed_at + 600))
    await apply(store, again)
    assert await store.scalar("SELECT last_inbound_at FROM thread") == failed_at + 600


async def test_a_131047_about_an_older_window_leaves_a_newer_session_open(store, fixtures_dir):
    await apply(store, load(fixtures_dir, "audio_voice.json"))
    await add_outbound(store, 1, OUR_WAMID, at=TOMASZ_AUDIO_AT - 100)
    late_status = StatusUpdate(CHANNEL_A, OUR_WAMID, "failed", TOMASZ_AUDIO_AT - 50, error_code=131047)
    await store.write(lambda db: ingest(db, [late_status], channels={CHANNEL_A}, now=NOW))
    assert await store.scalar("SELECT last_inbound_at FROM thread") == TOMASZ_AUDIO_AT
