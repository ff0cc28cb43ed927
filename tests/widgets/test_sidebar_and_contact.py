"""Sidebar and contact panel draw people's text literally (custom view names are typed by agents, contacts by anyone)."""

from __future__ import annotations

from textual.app import App, ComposeResult

from core.model import Contact, View
from widgets.contact_panel import ContactPanel
from widgets.sidebar import ViewSidebar

HOSTILE = "[b]x[/b] [@click=app.quit]q[/] \x1b[31m\u202e"


class Both(App[None]):
    def compose(self) -> ComposeResult:
        yield ViewSidebar()
        yield ContactPanel()


def shown(app: App) -> str:
    return "\n".join("".join(s.text for s in strip) for strip in app.screen._compositor.render_strips())


async def test_hostile_names_stay_text():
    app = Both()
    async with app.run_test(size=(80, 20)) as pilot:
        views = [View("open", "All open", {"status": "open"}), View("custom:1", HOSTILE, {}, builtin=False)]
        app.query_one(ViewSidebar).show_views(views, {"open": 3, "custom:1": 1}, "open")
        app.query_one(ContactPanel).show_contact(Contact(id=1, name=HOSTILE, email=HOSTILE), [], current=None,
                                                 numbers={}, now=0)
        await pilot.pause()
        text = shown(app)
        assert "[b]x[/b] [@click=app.quit]q[/] ␛[31m⟨U+202E⟩" in text.replace("\n", "")
        assert "\x1b" not in text and "\u202e" not in text
        app.query_one(ViewSidebar).update_counts({"custom:1": 7})
        await pilot.pause()
        assert "All open  3" in shown(app) and "  7" in shown(app)
