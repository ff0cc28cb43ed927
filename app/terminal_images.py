"""What the terminal can draw (Sixel, Kitty's protocol or half cells), asked while the inbox's modules import.

textual-image asks the terminal when it is imported, and a terminal that does not speak Kitty's protocol never
answers: the question costs its 0.1 s timeout. It must be asked before Textual takes the terminal, so it is asked in a
thread started first and joined just before the app runs; the question touches only textual-image, PIL and rich.
rich, which Textual imports too, is imported before the thread starts, so that the two threads never import the
same module at once; PIL only the thread imports.
"""

from __future__ import annotations

import threading


def ask_terminal() -> threading.Thread:
    import rich.console  # noqa: F401  (Textual's too: imported here, the two threads never import it at once)

    def ask() -> None:
        import PIL.Image  # noqa: F401  (nothing else imports PIL while the inbox starts)
        import textual_image.renderable  # noqa: F401  (queries the terminal once)
        from textual_image._terminal import get_cell_size

        get_cell_size()  # cached: the widget module's own call is then free

    asking = threading.Thread(target=ask, name="terminal-images", daemon=True)
    asking.start()
    return asking


def terminal_asked(asking: threading.Thread) -> None:
    """Before Textual takes the terminal: the answer is in (asked here should the thread have failed). The image
    widget itself is imported when an image is first shown (app/screens/media.py): it reads the cached answer."""
    asking.join()
    import textual_image.renderable  # noqa: F401  (imported by the thread: nothing more to do)
    from textual_image._terminal import get_cell_size

    get_cell_size()
