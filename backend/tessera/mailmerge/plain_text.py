"""The plain-text alternative of an HTML message: what a mail client without HTML, or an SMS,
shows. Text and line structure are kept, a link's address is written after its words, and
what is never shown (head, scripts, styles) is left out."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_HIDDEN = frozenset({"head", "script", "style", "title", "template"})
_BLOCKS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "table",
        "tr",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "hr",
    }
)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._hidden = 0
        self._links: list[tuple[str | None, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag in _BLOCKS:
            self.out.append("\n\n")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in ("td", "th"):
            self.out.append(" ")
        elif tag == "a":
            self._links.append((dict(attrs).get("href"), len(self.out)))

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCKS:
            self.out.append("\n\n")
        elif tag == "a" and self._links:
            href, at = self._links.pop()
            words = "".join(self.out[at:]).strip()
            if href and href.startswith(("http://", "https://")) and href != words:
                self.out.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.out.append(re.sub(r"\s+", " ", data))


def plain_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.out).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
