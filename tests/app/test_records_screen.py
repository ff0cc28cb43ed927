"""Pilot tests of the records screens (issue 9): the records screen (kinds, search), a record's page (properties,
edits checked by type, associations, threads), starting a WhatsApp conversation from a record (F9, F30), and the
thread's context panel with its records and the link to a deal or ticket (F19)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.screens.confirm import ConfirmScreen
from app.screens.inbox import InboxScreen
from app.screens.record_flows import ChoicePrompt
from app.screens.record_page import EditPrompt, RecordPage
from app.screens.records import RecordsScreen
from app.screens.template_picker import TemplatePicker
from core.store import Store
from contextlib import suppress

from textual.binding import Binding
from textual.screen import ModalScreen
from textual.worker import WorkerCancelled

from tests.app.helpers import CH1, MODAL_GROUPS, SIZE, db_rows, make_app, open_row, screen_text, seed
from tests.core.records_helpers import import_csv
from widgets.composer import ReplyArea
from widgets.record_list import RecordList

CONTACTS = "id,company,opt_in_source,opt_in_date\n1,Bursztyn Rejsy,web form,2025-03-01\n2,Bursztyn Rejsy,,\n"
NEW_CONTACTS = "name,mobile,email,company\nEwa Nowicka,+48 501 222 333,ewa@bursztyn.pl,Bursztyn Rejsy\n"
DEALS = ("name,stage,amount,close_date,company,contacts\n"
         "Baltic cruise,contract sent,12500,2025-06-30,Bursztyn Rejsy,#1\n")
TICKETS = "name,status,priority,contacts\nLost luggage,new,high,#1\n"


WAITING_ON_THE_AGENT = MODAL_GROUPS | {"record-edit", "start-whatsapp", "link-record"}


async def settle(pilot) -> None:
    """Wait for every worker that does not wait on a person (a prompt on screen)."""
    for _ in range(3):
        await pilot.pause()
        waiting = WAITING_ON_THE_AGENT if isinstance(pilot.app.screen, ModalScreen) else MODAL_GROUPS
        finite = [w for w in pilot.app.workers if w.group not in waiting and not w.is_finished]
        if finite:
            with suppress(WorkerCancelled):
                await pilot.app.workers.wait_for_complete(finite)
    await pilot.pause()


@pytest.fixture
def records_db(db_target) -> Path | str:
    path = seed(db_target)

    async def fill() -> None:
        store = await Store.open(path)
        try:
            for kind, text in (("contacts", CONTACTS), ("contacts", NEW_CONTACTS), ("deals", DEALS),
                               ("tickets", TICKETS)):
                outcome = await import_csv(store, kind, text)
                assert outcome.problems == [], outcome.problems
        finally:
            await store.close()

    asyncio.run(fill())
    return path


def toasts(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def record_id(db: Path, name: str) -> int:
    return db_rows(db, "SELECT id FROM record WHERE name = ?", (name,))[0][0]


async def open_records(pilot) -> RecordsScreen:
    await settle(pilot)
    await pilot.press("C")
    await settle(pilot)
    assert isinstance(pilot.app.screen, RecordsScreen)
    return pilot.app.screen


async def test_the_records_screen_lists_each_kind_and_searches_as_you_type(records_db: Path):
    app = make_app(records_db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_records(pilot)
        text = screen_text(pilot)
        assert "6 contacts" in text and "Alice Nowak" in text and "Ewa Nowicka" in text
        await pilot.press("slash", *"501222")
        await settle(pilot)
        records = screen.query_one(RecordList)
        assert records.total == 1 and records.current.title == "Ewa Nowicka"
        assert "1 contacts matching '501222'" in screen_text(pilot)
        await pilot.press("enter", "right_square_bracket")  # enter: back to the list; ]: companies
        await settle(pilot)
        assert screen.kind == "company" and records.total == 0  # the search stays: no company matches a number
        await pilot.press("slash", *["backspace"] * 6, *"bursz")
        await settle(pilot)
        assert [records.row_at(i).title for i in range(records.total)] == ["Bursztyn Rejsy"]
        await pilot.press("enter", "right_square_bracket", "slash", *["backspace"] * 5)
        await settle(pilot)
        assert screen.kind == "deal" and "Baltic cruise" in screen_text(pilot)
        assert "contract sent · 12500 · 2025-06-30" in screen_text(pilot)
        await pilot.press("escape", "escape")
        await settle(pilot)
        assert not isinstance(app.screen, RecordsScreen)


async def test_a_record_page_shows_properties_associations_and_threads_and_edits_are_checked(records_db: Path):
    app = make_app(records_db)
    async with app.run_test(size=SIZE) as pilot:
        await open_records(pilot)
        await pilot.press("slash", *"alice", "enter", "enter")
        await settle(pilot)
        page = app.screen
        assert isinstance(page, RecordPage)
        text = screen_text(pilot)
        assert "Alice Nowak" in text and "alice@example.com" in text and "web form" in text
        assert "Bursztyn Rejsy" in text and "Baltic cruise" in text and "Lost luggage" in text
        assert "via Sales · open" in text and "via Support · open" in text  # her two WhatsApp threads

        await pilot.press("escape", "right_square_bracket", "right_square_bracket")  # back; to deals
        await settle(pilot)
        await pilot.press("slash", *"baltic", "enter", "enter")
        await settle(pilot)
        deal = app.screen
        assert isinstance(deal, RecordPage) and deal.kind == "deal"
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, ChoicePrompt)
        await pilot.press("down", "down", "enter")  # name, owner, stage
        await settle(pilot)
        assert isinstance(app.screen, EditPrompt)
        await pilot.press("ctrl+u", *"signed", "enter")  # not one of the stages
        await settle(pilot)
        deal_id = record_id(records_db, "Baltic cruise")
        assert toasts(app)[-1].startswith("stage: unknown value 'signed' (one of: appointment scheduled,")
        assert '"stage": "contract sent"' in db_rows(records_db, "SELECT props FROM record WHERE id = ?",
                                                      (deal_id,))[0][0]
        await pilot.press("e", "down", "down", "enter", "ctrl+u", *"Closed Won", "enter")
        await settle(pilot)
        assert '"stage": "closed won"' in db_rows(records_db, "SELECT props FROM record WHERE id = ?", (deal_id,))[0][0]
        assert "closed won" in screen_text(pilot)

        await pilot.press("enter")  # the cursor is on the deal's first link at once: enter follows it
        await settle(pilot)
        linked = app.screen
        assert isinstance(linked, RecordPage) and linked is not deal and (linked.kind, linked.record_id) == deal.links[0]


async def test_starting_a_conversation_from_a_company_picks_a_contact_and_a_number_then_a_template(records_db: Path):
    app = make_app(records_db)
    async with app.run_test(size=SIZE) as pilot:
        await open_records(pilot)
        await pilot.press("right_square_bracket", "slash", *"bursztyn", "enter", "enter")
        await settle(pilot)
        assert isinstance(app.screen, RecordPage)
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, ChoicePrompt) and "Write to which contact?" in screen_text(pilot)
        await pilot.press(*"ewa", "enter")
        await settle(pilot)
        assert "From which number?" in screen_text(pilot)
        await pilot.press("enter")  # Sales
        await pilot.pause(0.2)
        await settle(pilot)
        # Ewa has no WhatsApp opt-in: the agent is asked first.
        assert isinstance(app.screen, ConfirmScreen) and "has no WhatsApp opt-in" in screen_text(pilot)
        await pilot.press("y")
        await pilot.pause(0.2)
        await settle(pilot)
        assert isinstance(app.screen, TemplatePicker)
        [(thread_id, wa_id, contact_name)] = db_rows(
            records_db, "SELECT t.id, t.wa_id, c.name FROM thread t JOIN contact c ON c.id = t.contact_id"
                        " WHERE t.channel = ? AND t.wa_id = '48501222333'", (CH1,))
        assert contact_name == "Ewa Nowicka"
        company = record_id(records_db, "Bursztyn Rejsy")
        assert db_rows(records_db, "SELECT record_id FROM association WHERE kind = 'thread' AND from_id = ?",
                       (thread_id,)) == [(company,)]
        assert app.screen_stack[-2].open_thread.id == thread_id  # the picker sends to the new thread


async def test_a_thread_that_exists_is_opened_and_an_open_session_takes_the_keys(records_db: Path):
    app = make_app(records_db)
    async with app.run_test(size=SIZE) as pilot:
        await open_records(pilot)
        await pilot.press("slash", *"alice", "enter", "w")
        await settle(pilot)
        await pilot.press("enter")  # From: Sales, where Alice wrote 3 hours ago (thread 1)
        await pilot.pause(0.2)
        await settle(pilot)
        inbox = app.screen
        assert inbox.open_thread.id == 1 and inbox.composer.thread_id == 1
        assert inbox.focused is inbox.composer.area  # compose freely: the session is open
        assert db_rows(records_db, "SELECT count(*) FROM thread")[0][0] == 6  # no new thread


async def test_the_context_panel_shows_the_contacts_records_and_links_the_thread_to_a_ticket(records_db: Path):
    app = make_app(records_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 0)  # Alice, thread 1
        text = screen_text(pilot)
        assert "Records" in text and "Bursztyn Rejsy" in text and "Baltic cruise" in text
        assert "contract sent" in text and "Lost luggage" in text
        await open_row(pilot, 1)  # Bob: Bursztyn's contact too, no deal
        text = screen_text(pilot)
        assert "Bursztyn Rejsy" in text and "Baltic cruise" not in text
        await pilot.press("L")
        await settle(pilot)
        assert isinstance(app.screen, ChoicePrompt)
        await pilot.press(*"luggage", "enter")
        await settle(pilot)
        ticket = record_id(records_db, "Lost luggage")
        assert db_rows(records_db, "SELECT from_id FROM association WHERE kind = 'thread' AND record_id = ?",
                       (ticket,)) == [(2,)]
        assert "Lost luggage" in screen_text(pilot)


async def test_a_link_made_elsewhere_shows_in_the_open_threads_context_panel(records_db: Path):
    app = make_app(records_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 1)  # Bob's thread
        assert "Lost luggage" not in screen_text(pilot)
        other = await Store.open(records_db)  # another agent's inbox, or `wabox` on the command line
        try:
            from core.records.service import Records
            await Records(other).associate("thread", 2, record_id(records_db, "Lost luggage"))
        finally:
            await other.close()
        for _ in range(100):
            await pilot.pause(0.05)
            if "Lost luggage" in screen_text(pilot):
                break
        assert "Lost luggage" in screen_text(pilot)


def test_the_records_key_is_C_and_leaves_ctrl_r_and_every_composer_key_to_the_composer():
    """A screen key that is also a composer key never reaches the screen while the agent types (ctrl+r is the
    composer's saved replies, issue 10)."""
    screen_keys = {b.key: b.action for b in Binding.make_bindings(InboxScreen.BINDINGS)}
    composer_keys = {b.key for b in Binding.make_bindings(ReplyArea.BINDINGS)} | {"ctrl+r"}
    assert {key for key, action in screen_keys.items() if action == "records"} == {"C"}
    # Enter is the search box's (a priority binding, so that the keys typed after it go to the list): the screen
    # enables it only while the search box has focus (InboxScreen.check_action), never from the composer.
    assert not (set(screen_keys) - {"enter"}) & composer_keys


async def test_the_first_page_shows_before_the_matches_are_counted(records_db: Path):
    """A one-letter search over many contacts: the page is drawn at once, the count follows when it is ready."""
    store = await Store.open(records_db)
    try:
        people = "".join(f"Pat Client {i:03d},pat{i}@example.com\n" for i in range(250))
        assert (await import_csv(store, "contacts", "name,email\n" + people)).problems == []
    finally:
        await store.close()
    app = make_app(records_db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_records(pilot)
        counted = asyncio.Event()
        real_count = screen.records.count

        async def count_when_let(kind: str, search: str | None = None) -> int:
            await counted.wait()  # counting every match takes its time: the first page must not wait for it
            return await real_count(kind, search)

        screen.records.count = count_when_let
        listed = screen.query_one(RecordList)
        await pilot.press("slash", "p")
        for _ in range(200):
            if listed.total >= 100:
                break
            await pilot.pause()
        titles = [listed.row_at(i).title for i in range(listed.total)]
        assert listed.total == 100 and "100+ contacts matching 'p'" in screen_text(pilot)
        assert "Pat Client 000" in titles and titles == sorted(titles)
        counted.set()
        await settle(pilot)
        matching = await real_count("contact", "p")
        assert matching >= 250 and listed.total == matching and f"{matching} contacts matching 'p'" in screen_text(pilot)
