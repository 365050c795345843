"""Reading figures back out of the queue page's HTML, as a person (or screen reader) would."""

from __future__ import annotations

from html.parser import HTMLParser


class QueuePageReader(HTMLParser):
    """Collects the count cells (by their data attributes), the oldest-table rows and tag usage."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], int] = {}
        self.oldest_rows: list[list[str]] = []
        self.scripts: list[dict[str, str | None]] = []
        self.style_attributes = 0
        self.style_elements = 0
        self._cell_key: tuple[str, str] | None = None
        self._cell_text = ""
        self._in_oldest_table = False
        self._row: list[str] | None = None
        self._td_depth = 0
        self._td_text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "style" in attributes:
            self.style_attributes += 1
        if tag == "style":
            self.style_elements += 1
        if tag == "script":
            self.scripts.append(attributes)
        if tag == "td" and "data-status" in attributes:
            self._cell_key = (attributes["data-status"] or "", attributes["data-priority"] or "")
            self._cell_text = ""
        if tag == "table" and "oldest-table" in (attributes.get("class") or ""):
            self._in_oldest_table = True
        if self._in_oldest_table and tag == "tr":
            self._row = []
        if self._in_oldest_table and tag == "td":
            self._td_depth += 1
            self._td_text = ""
        elif self._td_depth:
            self._td_text += " "  # elements inside a cell (list items, badges) read as words

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell_key is not None:
            self.cells[self._cell_key] = int(self._cell_text.strip())
            self._cell_key = None
        if self._in_oldest_table and tag == "td" and self._row is not None:
            self._row.append(" ".join(self._td_text.split()))
            self._td_depth -= 1
        if self._in_oldest_table and tag == "tr" and self._row:
            self.oldest_rows.append(self._row)
            self._row = None
        if tag == "table":
            self._in_oldest_table = False

    def handle_data(self, data: str) -> None:
        if self._cell_key is not None:
            self._cell_text += data
        if self._td_depth:
            self._td_text += data


def read_queue_page(html: str) -> QueuePageReader:
    """Parse the queue page."""
    reader = QueuePageReader()
    reader.feed(html)
    reader.close()
    return reader
