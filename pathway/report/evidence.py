"""docs/evidence.md as entries keyed by citation id.

The file is read generically: every Markdown heading whose first word (or first `code` span)
is a citation id starts that id's entry, which runs to the next heading of the same or a
higher level. Headings that name no id (an introduction, a method section) are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import attrs
from markdown_it import MarkdownIt

REPO_EVIDENCE = Path(__file__).resolve().parents[2] / "docs" / "evidence.md"
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ID = re.compile(r"[a-z][a-z0-9_]*")
_FENCE = re.compile(r"^\s*(```|~~~)")


@attrs.frozen
class Entry:
    id: str
    heading: str
    markdown: str

    def html(self, anchors: Mapping[str, str] | None = None) -> str:
        return markdown_html(self.markdown, anchors)


_HREF = re.compile(r'<a href="([^"]*)"')


def markdown_html(text: str, anchors: Mapping[str, str] | None = None) -> str:
    """Markdown as HTML that fetches nothing: raw HTML is escaped and images are not rendered.

    A link to '#id' is pointed at ``anchors[id]`` (where that entry sits in the page); a link to a
    file beside the Markdown would lead nowhere from the page, so it becomes plain text.
    """
    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").disable("image")
    html = md.render(text)

    def link(match: re.Match[str]) -> str:
        target = match.group(1)
        if target.startswith("#"):
            return f'<a href="#{(anchors or {}).get(target[1:], target[1:])}"'
        if re.match(r"(https?|mailto):", target):
            return match.group(0)
        return "<a"

    return _HREF.sub(link, html)


def _heading_id(text: str) -> str | None:
    code = re.search(r"`([^`]+)`", text)
    first = code.group(1) if code else (text.split() or [""])[0]
    candidate = first.strip("*_:()[].,—-").strip()
    return candidate if _ID.fullmatch(candidate) else None


def parse_evidence(text: str) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    current: tuple[str, str, int] | None = None
    body: list[str] = []
    in_fence = False

    def close() -> None:
        if current is not None and current[0] not in entries:
            entries[current[0]] = Entry(current[0], current[1], "\n".join(body).strip() + "\n")

    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match is None:
            if current is not None:
                body.append(line)
            continue
        level, title = len(match.group(1)), match.group(2)
        if current is not None and level <= current[2]:
            close()
            current, body = None, []
        ref = _heading_id(title)
        if current is None and ref is not None:
            current, body = (ref, title.replace("`", ""), level), []
        elif current is not None:
            body.append(line)
    close()
    return entries


def read_evidence(path: Path | None) -> dict[str, Entry]:
    """Entries of the evidence file (default: the repository's docs/evidence.md); none when it is absent."""
    source = path or REPO_EVIDENCE
    if not source.is_file():
        return {}
    return parse_evidence(source.read_text(encoding="utf-8"))
