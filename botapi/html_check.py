"""A strict checker for Telegram's HTML parse mode that also yields the visible text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "b": frozenset(),
    "strong": frozenset(),
    "i": frozenset(),
    "em": frozenset(),
    "u": frozenset(),
    "ins": frozenset(),
    "s": frozenset(),
    "strike": frozenset(),
    "del": frozenset(),
    "span": frozenset({"class"}),
    "tg-spoiler": frozenset(),
    "a": frozenset({"href"}),
    "code": frozenset({"class"}),
    "pre": frozenset(),
    "blockquote": frozenset({"expandable"}),
    "tg-emoji": frozenset({"emoji-id"}),
}
REQUIRED_ATTRIBUTES = {"a": "href", "tg-emoji": "emoji-id", "span": "class"}

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_ENTITY = re.compile(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_ATTRIBUTE = re.compile(
    r"""\s+([A-Za-z][A-Za-z0-9_-]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?"""
)
_TAG_END = re.compile(r"\s*(/?)>")


class HtmlError(ValueError):
    """Telegram would answer "can't parse entities" for this text."""


@dataclass
class _Parser:
    """State of one pass over an HTML text."""

    source: str
    pos: int = 0
    text: list[str] = field(default_factory=list)
    open_tags: list[tuple[str, int]] = field(default_factory=list)

    def offset(self, index: int | None = None) -> int:
        """The UTF-8 byte offset of a character index, as Telegram reports it."""
        return len(self.source[: self.pos if index is None else index].encode("utf-8"))

    def fail(self, message: str, index: int | None = None) -> HtmlError:
        """An error located at a byte offset."""
        return HtmlError(f"{message} at byte offset {self.offset(index)}")

    def run(self) -> str:
        """Parse the whole text and return what the user would see."""
        while self.pos < len(self.source):
            char = self.source[self.pos]
            if char == "<":
                self.tag()
            elif char == "&":
                self.entity()
            elif char == ">":
                raise self.fail("Character '>' must be escaped as &gt;")
            else:
                self.text.append(char)
                self.pos += 1
        if self.open_tags:
            name = self.open_tags[-1][0]
            raise HtmlError(f'Can\'t find end tag corresponding to start tag "{name}"')
        return "".join(self.text)

    def entity(self) -> None:
        """Consume an HTML entity."""
        match = _ENTITY.match(self.source, self.pos)
        if match is None:
            raise self.fail("Character '&' must be escaped as &amp;")
        self.text.append(self.decode_entity(match.group(1)))
        self.pos = match.end()

    def decode_entity(self, body: str) -> str:
        """The character an entity body (without & and ;) stands for."""
        if body.startswith("#"):
            number = int(body[2:], 16) if body[1:2] in "xX" and len(body) > 2 else int(body[1:])
            if not 0 < number <= 0x10FFFF or 0xD800 <= number <= 0xDFFF:
                raise self.fail(f'Invalid numeric HTML entity "&{body};"')
            return chr(number)
        if body not in NAMED_ENTITIES:
            raise self.fail(f'Unsupported HTML entity "&{body};"')
        return NAMED_ENTITIES[body]

    def tag(self) -> None:
        """Consume a start or an end tag."""
        if self.source.startswith("</", self.pos):
            self.end_tag()
            return
        start = self.pos
        name_match = _NAME.match(self.source, start + 1)
        if name_match is None:
            raise self.fail("Character '<' must be escaped as &lt;")
        name = name_match.group(0).lower()
        if name not in ALLOWED_ATTRIBUTES:
            raise self.fail(f'Unsupported start tag "{name}"', start)
        attributes = self.attributes(name_match.end(), start)
        self.check_tag(name, attributes, start)
        self.open_tags.append((name, start))

    def attributes(self, index: int, start: int) -> dict[str, str]:
        """Parse attributes up to the closing '>' of a start tag."""
        found: dict[str, str] = {}
        while (match := _ATTRIBUTE.match(self.source, index)) is not None:
            value = match.group(2) or ""
            if value[:1] in ("'", '"'):
                value = value[1:-1]
            found[match.group(1).lower()] = value
            index = match.end()
        end = _TAG_END.match(self.source, index)
        if end is None:
            raise self.fail("Unclosed start tag", start)
        if end.group(1):
            raise self.fail("Self-closing tags are not supported", start)
        self.pos = end.end()
        return found

    def check_tag(self, name: str, attributes: dict[str, str], start: int) -> None:
        """Reject unknown attributes and forbidden nesting."""
        for attribute in attributes:
            if attribute not in ALLOWED_ATTRIBUTES[name]:
                raise self.fail(f'Unsupported attribute "{attribute}" of tag "{name}"', start)
        required = REQUIRED_ATTRIBUTES.get(name)
        if required and required not in attributes:
            raise self.fail(f'Tag "{name}" must have attribute "{required}"', start)
        if name == "span" and attributes["class"] != "tg-spoiler":
            raise self.fail('Tag "span" must have class "tg-spoiler"', start)
        self.check_nesting(name, start)

    def check_nesting(self, name: str, start: int) -> None:
        """Entities inside pre/code, and nested links or blockquotes, are not allowed."""
        outer = [tag for tag, _ in self.open_tags]
        if outer and outer[-1] == "pre" and name == "code":
            return
        if "pre" in outer or "code" in outer:
            raise self.fail(f'Tag "{name}" is not allowed inside "pre" or "code"', start)
        if name in ("a", "blockquote") and name in outer:
            raise self.fail(f'Tag "{name}" can\'t be nested', start)

    def end_tag(self) -> None:
        """Consume an end tag that must match the innermost open tag."""
        start = self.pos
        name_match = _NAME.match(self.source, start + 2)
        end = _TAG_END.match(self.source, name_match.end()) if name_match else None
        if name_match is None or end is None or end.group(1):
            raise self.fail("Malformed end tag", start)
        name = name_match.group(0).lower()
        if not self.open_tags:
            raise self.fail(f'Unexpected end tag "</{name}>"', start)
        expected = self.open_tags[-1][0]
        if name != expected:
            message = f'Unmatched end tag, expected "</{expected}>", found "</{name}>"'
            raise self.fail(message, start)
        self.open_tags.pop()
        self.pos = end.end()


def html_to_text(source: str) -> str:
    """The visible text of a Telegram HTML message; raise HtmlError if it is not well-formed."""
    return _Parser(source).run()
