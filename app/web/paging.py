"""Pages of a list already in memory, for the pager macro (as db.paginate gives for queries)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ListPage:
    """One page of ``rows``: the attributes the pager macro reads, and the page's items."""

    rows: Sequence[Any]
    page: int
    per_page: int

    @classmethod
    def of(cls, rows: Sequence[Any], page: int | None, per_page: int) -> ListPage:
        """The requested page, brought within range (a page past the end shows the last)."""
        pages = max(1, -(-len(rows) // per_page))
        return cls(rows, min(max(page or 1, 1), pages), per_page)

    @property
    def items(self) -> Sequence[Any]:
        """The rows on this page."""
        start = (self.page - 1) * self.per_page
        return self.rows[start:start + self.per_page]

    @property
    def total(self) -> int:
        """Rows on every page."""
        return len(self.rows)

    @property
    def pages(self) -> int:
        """How many pages there are (at least one)."""
        return max(1, -(-len(self.rows) // self.per_page))

    @property
    def has_prev(self) -> bool:
        """Whether a page comes before this one."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """Whether a page comes after this one."""
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        """The previous page's number."""
        return self.page - 1

    @property
    def next_num(self) -> int:
        """The next page's number."""
        return self.page + 1
