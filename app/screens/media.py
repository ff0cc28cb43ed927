"""`O`: the selected media shown in the terminal itself — an image drawn with textual-image (Sixel, Kitty's
protocol or coloured half cells, whichever the terminal speaks), any other file described, with the save key.

The terminal is asked what it can draw when textual-image is imported, which must happen before Textual takes the
terminal: app/terminal_images.py does it for the commands that open the inbox.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from app.screens.keys import hint
from core.model import ChatMessage, MessageType
from widgets.formatting import file_size
from widgets.literal import literal


def describe(message: ChatMessage) -> Content:
    """Type, size and the customer's name for the file: the text fallback for everything."""
    name = literal(message.file_name, limit=200, keep_newlines=False) if message.file_name else Content("(no name)")
    return Content.assemble((str(message.type), "bold"), f" · {message.mime_type or 'unknown type'}"
                            f" · {file_size(message.file_size)} · ", name)


class MediaScreen(ModalScreen[bool]):
    """Dismisses with True when the agent asks to save the file."""

    BINDINGS = [Binding("escape,O,q", "close", "Close"),
                Binding("S", "save", "Save file", tooltip="Save it to the downloads folder")]

    def __init__(self, message: ChatMessage, path: Path) -> None:
        super().__init__()
        self.message, self.path = message, path

    def compose(self) -> ComposeResult:
        with Vertical(id="media", classes="prompt"):
            yield Static(describe(self.message), id="media-title")
            if self.message.type in (MessageType.IMAGE, MessageType.STICKER):
                yield self._image()
            else:
                yield Static(Content.styled("This kind of file is not drawn here: save it and open it on your "
                                            "own machine.", "dim"), id="media-fallback")
            yield Static(Content.styled(hint(self.app, self.BINDINGS, ["save", "close"]), "dim"), id="media-keys")

    def _image(self) -> Static:
        try:
            from PIL import Image as PILImage
            from textual_image.widget import Image

            with PILImage.open(self.path) as opened:
                opened.load()  # a broken or hostile file fails here, not while drawing
                picture = opened.copy()
            return Image(picture, id="media-image")
        except Exception as error:  # PIL raises many kinds for a bad file; the agent still gets the text
            return Static(Content.assemble(("Cannot draw this image: ", "bold"),
                                           literal(f"{type(error).__name__}: {error}", limit=200,
                                                   keep_newlines=False)), id="media-fallback")

    def action_close(self) -> None:
        self.dismiss(False)

    def action_save(self) -> None:
        self.dismiss(True)
