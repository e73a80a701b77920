"""Telegram HTML as a tree of allowed nodes, so the page builds DOM nodes and never parses HTML.

A node is a text string or {"t": tag, "c": [children]} with tag one of b, i, u, s, code, pre,
a (with "href" when it is a web or tg: link), blockquote and spoiler. Unknown tags keep only
their text; attributes other than a link's target are dropped.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

Node = str | dict[str, Any]

TAGS = {
    "b": "b",
    "strong": "b",
    "i": "i",
    "em": "i",
    "u": "u",
    "ins": "u",
    "s": "s",
    "strike": "s",
    "del": "s",
    "code": "code",
    "pre": "pre",
    "a": "a",
    "blockquote": "blockquote",
    "tg-spoiler": "spoiler",
}
SAFE_SCHEMES = ("http://", "https://", "tg://")


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root: dict[str, Any] = {"t": "root", "c": []}
        self.stack: list[tuple[str, dict[str, Any]]] = [("", self.root)]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        kind = TAGS.get(tag)
        if tag == "span" and values.get("class") == "tg-spoiler":
            kind = "spoiler"
        node: dict[str, Any] = {"t": kind, "c": []} if kind else {"t": None, "c": []}
        href = values.get("href", "").strip()
        if kind == "a" and href.lower().startswith(SAFE_SCHEMES):
            node["href"] = href
        self.stack[-1][1]["c"].append(node)
        self.stack.append((tag, node))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth][0] == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        children = self.stack[-1][1]["c"]
        if children and isinstance(children[-1], str):
            children[-1] += data
        else:
            children.append(data)


def _flatten(children: list[Node]) -> list[Node]:
    """Unknown tags replaced by their children; adjacent texts merged."""
    result: list[Node] = []
    for child in children:
        if isinstance(child, dict) and child["t"] is None:
            parts = _flatten(child["c"])
        elif isinstance(child, dict):
            parts = [{**child, "c": _flatten(child["c"])}]
        else:
            parts = [child]
        for part in parts:
            if isinstance(part, str) and result and isinstance(result[-1], str):
                result[-1] += part
            else:
                result.append(part)
    return result


def to_nodes(source: str | None, parse_mode: str | None) -> list[Node]:
    """The message's text as nodes: parsed when sent as HTML, else one plain string."""
    if not source:
        return []
    if (parse_mode or "").lower() != "html":
        return [source]
    builder = _TreeBuilder()
    builder.feed(source)
    builder.close()
    return _flatten(builder.root["c"])
