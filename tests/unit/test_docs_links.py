"""The README stays a front door, and every relative link in it and in docs/ leads somewhere.

Links to files must name an existing file or folder of the repository; a ``#anchor`` must name a
heading of its target (GitHub's slugs). Nothing is exempt: ``docs/configuration.md`` is written by
``scripts/settings_doc.py``, and a link to it passes only once that file is in the repository.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_LIMIT = 12 * 1024
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def prose(text: str) -> str:
    """The text without code blocks and code spans, where link-like strings are examples."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def links(path: Path) -> list[str]:
    text = prose(path.read_text(encoding="utf-8"))
    return MARKDOWN_LINK.findall(text) + HTML_LINK.findall(text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = slug(heading)
        anchor, n = base, 0
        while anchor in found:  # GitHub numbers repeated headings: name, name-1, name-2 …
            n += 1
            anchor = f"{base}-{n}"
        found.add(anchor)
    return found


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    broken = []
    for link in links(path):
        if EXTERNAL.match(link) or link.startswith("//"):
            continue
        target, _, anchor = link.partition("#")
        resolved = (path.parent / unquote(target)).resolve() if target else path
        if not resolved.exists():
            broken.append(f"{link}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{link}: no heading with the anchor #{anchor}")
        elif root not in resolved.parents and resolved != root:
            broken.append(f"{link}: outside the repository")
    return broken


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    assert broken_links(path) == []


def test_the_readme_is_a_front_door() -> None:
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes; move detail to docs/ (limit {README_LIMIT})"


def test_the_readme_links_every_document() -> None:
    linked = {(README.parent / link.partition("#")[0]).resolve() for link in links(README)}
    assert [path.name for path in DOCUMENTS[1:] if path.resolve() not in linked] == []


def test_the_checker_catches_what_it_should(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("# A heading, with `code`\n\n## Twice\n\n## Twice\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md#a-heading-with-code) [ok](there.md#twice-1) [ok](#own) "
        '[gone](missing.md) [bad anchor](there.md#nowhere) <img src="nothing.png">\n'
        "`[in code](nowhere.md)` [web](https://example.com/x.md)\n\n```\n[fenced](nowhere.md)\n```\n\n# Own\n"
    )
    assert broken_links(page, tmp_path) == [
        "missing.md: no such file",
        "there.md#nowhere: no heading with the anchor #nowhere",
        "nothing.png: no such file",
    ]
