"""Per-thread compose state — reply text, note text, mode, chosen channel, attachment — with one owner.

The screen asks this for a thread's draft when it binds the composer, hands back every change, and flushes; the
drafts live in the database per agent (core.inbox), so they survive a restart and a crash (at most the last
debounce interval of typing is lost).
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from core.inbox import Inbox
from core.model import Draft

SAVE_AFTER = 0.3  # seconds of quiet typing before a draft is written (leaving the thread writes at once)


def new_draft(thread_id: int) -> Draft:
    return Draft(thread_id=thread_id, client_key=uuid.uuid4().hex)


class ThreadDrafts:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self._drafts: dict[int, Draft] = {}
        self._unsaved: set[int] = set()

    async def load(self) -> None:
        stored = await self.inbox.drafts()
        self._drafts = {**stored, **{i: self._drafts[i] for i in self._unsaved}}  # typed before the load: kept

    def get(self, thread_id: int) -> Draft:
        return self._drafts.get(thread_id) or new_draft(thread_id)

    def put(self, draft: Draft) -> None:
        if self._drafts.get(draft.thread_id) != draft:
            self._drafts[draft.thread_id] = draft
            self._unsaved.add(draft.thread_id)

    def sent(self, thread_id: int, client_key: str, *, note: bool, attachment: bool = False) -> Draft:
        """What the thread's draft is once the compose under `client_key` is queued: that text (or file) gone,
        and a new key for the next compose. A draft typed since under another key is left alone."""
        draft = self.get(thread_id)
        if draft.client_key == client_key:
            cleared = {"attachment": None, "caption": ""} if attachment else (
                {"note_text": ""} if note else {"reply_text": ""})
            self.put(replace(draft, client_key=uuid.uuid4().hex, **cleared))
        return self.get(thread_id)

    @property
    def written(self) -> set[int]:
        """Threads with something written and not sent: the thread list marks them."""
        return {thread_id for thread_id, draft in self._drafts.items() if draft.written}

    async def flush(self) -> None:
        unsaved = [self._drafts[thread_id] for thread_id in sorted(self._unsaved)]
        self._unsaved.clear()
        try:
            await self.inbox.save_drafts(unsaved)
        except BaseException:
            self._unsaved.update(d.thread_id for d in unsaved)  # kept for the next flush
            raise
