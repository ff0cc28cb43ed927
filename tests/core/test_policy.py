"""The rules as tables: the 24-hour boundary, quota counting, tiers, media limits, quarantine."""

import pytest

from core import policy

LAST = 1_795_519_200  # the customer's last message, Meta's timestamp
DAY = 86_400


@pytest.mark.parametrize("now, open_, left, badge", [
    (LAST, True, DAY, "24h"),
    (LAST + 1, True, DAY - 1, "23h"),
    (LAST + DAY - 3600, True, 3600, "1h"),
    (LAST + DAY - 3599, True, 3599, "59m"),
    (LAST + DAY - 60, True, 60, "1m"),
    (LAST + DAY - 59, True, 59, "59s"),
    (LAST + DAY - 1, True, 1, "1s"),
    (LAST + DAY, False, 0, "closed"),        # exactly 24 h later the window is shut
    (LAST + DAY + 1, False, 0, "closed"),
])
def test_the_24_hour_boundary(now, open_, left, badge):
    assert policy.session_open(LAST, now) is open_
    assert policy.session_left(LAST, now) == left
    assert policy.format_session_left(policy.session_left(LAST, now)) == badge


def test_no_customer_message_means_no_session():
    assert policy.session_open(None, LAST) is False
    assert policy.session_expires_at(None) is None
    assert policy.session_expires_at(LAST) == LAST + DAY


@pytest.mark.parametrize("conversation_expires, now, session_is_open, template, counts", [
    (None, LAST + 60, True, False, "customer"),           # first reply in a session: one conversation
    (LAST + 60 + DAY, LAST + 600, True, False, None),      # further replies in it: nothing more
    (LAST + 60 + DAY, LAST + 600, True, True, None),       # a template inside it: still the same conversation
    (LAST + 60, LAST + DAY - 10, True, False, "customer"),  # the conversation ran out, the session was renewed
    (None, LAST + 2 * DAY, False, True, "business"),      # a template outside a session: one each time
    (LAST + DAY, LAST + 2 * DAY, False, True, "business"),
    (None, LAST + 2 * DAY, False, False, None),           # free-form outside a session is refused elsewhere
])
def test_quota_counting(conversation_expires, now, session_is_open, template, counts):
    assert policy.conversation_needed(conversation_expires, now, session_is_open, template) == counts


def test_months_are_utc_calendar_months():
    assert policy.month_key(1796083199) == "2026-11"     # 2026-11-30 23:59:59 UTC
    assert policy.month_key(1796083200) == "2026-12"
    assert policy.next_month_start(LAST) == 1796083200
    assert policy.next_month_start(1798761600 - 1) == 1798761600  # December rolls into January
    assert policy.quota_left(998, 1000) == 2 and policy.quota_left(1200, 1000) == 0


@pytest.mark.parametrize("tier, limit", [
    ("TIER_250", 250), ("TIER_2K", 2000), ("TIER_10K", 10_000), ("TIER_100K", 100_000), ("TIER_UNLIMITED", None),
    ("TIER_50", 50), ("TIER_1K", 1000), ("tier_2k", 2000), (None, 250), ("SOMETHING_NEW", 250),
])
def test_messaging_limit_tiers(tier, limit):
    assert policy.messaging_tier_limit(tier) == limit


@pytest.mark.parametrize("kind, mime, size, ok_or_reason", [
    ("image", "image/jpeg", 4 * 2**20, None),
    ("image", "image/png", 5 * 2**20 + 1, "image is 5.0 MB; WhatsApp takes at most 5.0 MB"),
    ("image", "image/gif", 1000, "image/gif is not a type WhatsApp accepts for image"),
    ("audio", "audio/ogg", 1000, "audio/ogg is accepted only with the Opus codec"),
    ("audio", "audio/ogg; codecs=opus", 1000, None),
    ("video", "video/mp4", 17 * 2**20, "video is 17.0 MB; WhatsApp takes at most 16.0 MB"),
    ("document", "application/pdf", 99 * 2**20, None),
    ("document", "application/x-msdownload", 10, "application/x-msdownload is not a type"),
    ("sticker", "image/webp", 101 * 1024, "sticker is 101 KB; WhatsApp takes at most 100 KB"),
    ("document", "application/pdf", 0, "the file is empty"),
])
def test_media_limits(kind, mime, size, ok_or_reason):
    reason = policy.check_media(kind, mime, size)
    if ok_or_reason is None:
        assert reason is None
    else:
        assert reason is not None and reason.startswith(ok_or_reason)


def test_an_animated_sticker_may_be_bigger():
    assert policy.check_media("sticker", "image/webp", 400 * 1024, animated=True) is None


@pytest.mark.parametrize("path, mime, kind", [
    ("photo.JPG", "image/jpeg", "image"), ("voice.ogg", "audio/ogg; codecs=opus", "audio"),
    ("faktura.pdf", "application/pdf", "document"), ("s.webp", "image/webp", "sticker"),
    ("clip.mp4", "video/mp4", "video"), ("archive.zip", "application/zip", None),
])
def test_outbound_files_go_as_the_right_kind(path, mime, kind):
    assert policy.guess_mime(path) == mime
    assert policy.kind_for_mime(mime) == kind


@pytest.mark.parametrize("text, reason", [
    ("Moja karta 4111 1111 1111 1111, ważna 12/28", "looks like a payment card number"),
    ("5500-0000-0000-0004", "looks like a payment card number"),
    ("Zweryfikuj konto: http://paypa1-login.example.xyz/verify", "looks like a phishing link"),
    ("http://192.168.10.1/bank", "looks like a phishing link"),
    ("https://xn--pypal-4ve.com/login", "looks like a phishing link"),
    ("https://bit.ly/3abcDEF", "looks like a phishing link"),
    ("http://www.mbank.pl@evil.example/", "looks like a phishing link"),
    ("whatsapp-verify.com/code", None),  # no scheme or www: not a link we can judge
    ("https://www.whatsapp-verify.com/code", "looks like a phishing link"),
    ("Zamówienie nr 1043 wysłane", None),
    ("Mój numer: +48 601 234 567", None),
    ("https://example.com/order/1043", None),
    ("Numer przesyłki 1234 5678 9012 3456", None),  # 16 digits that fail Luhn
    ("", None),
])
def test_quarantine(text, reason):
    assert policy.quarantine_reason(text) == reason
