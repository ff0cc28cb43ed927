"""The cursor keys every virtual list here shares (thread list, records list): one row, a page, first, last."""

from __future__ import annotations


class CursorMoves:
    """Needs `cursor` (a reactive int), `total` and `rows_per_page`; the list draws and scrolls on its own."""

    cursor: int
    total: int

    @property
    def rows_per_page(self) -> int:
        raise NotImplementedError

    def move_to(self, index: int) -> None:
        self.cursor = max(0, min(index, self.total - 1))

    def action_cursor_down(self) -> None:
        self.move_to(self.cursor + 1)

    def action_cursor_up(self) -> None:
        self.move_to(self.cursor - 1)

    def action_first(self) -> None:
        self.move_to(0)

    def action_last(self) -> None:
        self.move_to(self.total - 1)

    def action_page_down(self) -> None:
        self.move_to(self.cursor + self.rows_per_page)

    def action_page_up(self) -> None:
        self.move_to(self.cursor - self.rows_per_page)
