"""Every text a person reads is rendered here from `templates/<locale>/`."""

from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date, get_day_names
from babel.numbers import format_decimal
from jinja2 import BytecodeCache, Environment, FileSystemLoader, StrictUndefined
from jinja2.bccache import Bucket

from bot.config import TIMEZONE
from bot.nik import mask_number, mask_numbers_in
from bot.services.opening_hours import parse_hours

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
LOCALES = ("id", "en")


class CompiledTemplates(BytecodeCache):
    """The compiled templates of every Renderer of the process, in memory: a second Renderer
    (the CLI's beside the bot's, an application per test) does not compile them again.
    Compiling labels.j2 alone takes about a third of a second. Jinja2 keys each entry by the
    template's file and checks its source's checksum, so an edited template is compiled anew."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


COMPILED = CompiledTemplates()


class Renderer:
    """One Jinja2 environment; `render(locale, name, **ctx)` is the only way to make text."""

    def __init__(self, directory: Path = TEMPLATES_DIR) -> None:
        self.env = Environment(
            loader=FileSystemLoader(directory),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            # Templates are installed files: no stat() of each one on every render.
            auto_reload=False,
            bytecode_cache=COMPILED,
        )
        # labels.j2 evaluated once per locale for the labels that take no context (most of
        # them): evaluating the whole module costs about 130 µs, a keyboard has ten labels.
        self._plain_labels: dict[str, Any] = {}
        self.env.filters["mask"] = mask_number
        self.env.filters["redact"] = mask_numbers_in
        self.env.filters["jam_buka"] = _format_hours
        self.env.filters["tanggal"] = _format_date
        self.env.filters["jam"] = _format_time
        self.env.filters["tanggal_pendek"] = _format_short_date
        self.env.filters["tanggal_ketik"] = _format_typed_date
        self.env.filters["bulan"] = _format_month
        self.env.filters["angka"] = _format_number
        self.env.filters["nama_pendek"] = _short_name

    def render(self, locale: str, name: str, **context: Any) -> str:
        """Render `templates/<locale>/<name>` with `context`; surrounding whitespace trimmed."""
        template = self.env.get_template(f"{_locale(locale)}/{name}")
        return template.render(locale=_locale(locale), **context).strip()

    def label(self, locale: str, key: str, **context: Any) -> str:
        """A short label (button text, command description) from `<locale>/labels.j2`."""
        locale = _locale(locale)
        if context:
            module = self._labels_module(locale, context)
        elif (module := self._plain_labels.get(locale)) is None:
            module = self._plain_labels[locale] = self._labels_module(locale, {})
        return str(getattr(module, key))

    def _labels_module(self, locale: str, context: dict[str, Any]) -> Any:
        template = self.env.get_template(f"{locale}/labels.j2")
        return template.make_module({"locale": locale, **context})


def _locale(locale: str) -> str:
    return locale if locale in LOCALES else LOCALES[0]


def _format_date(value: date | datetime, locale: str = "id") -> str:
    """`Rabu, 14 Mei 2025` (the date in WIB when given a datetime)."""
    if isinstance(value, datetime):
        value = value.astimezone(TIMEZONE).date()
    return _babel_date(value, "EEEE, d MMMM y", _locale(locale))


def _format_short_date(value: date | datetime, locale: str = "id") -> str:
    """`Rab 14/5`: for buttons."""
    if isinstance(value, datetime):
        value = value.astimezone(TIMEZONE).date()
    return _babel_date(value, "EEE d/M", _locale(locale))


def _format_typed_date(value: date, locale: str = "id") -> str:
    """`14 Mei 2025`: a date as a person types it, with the month's name."""
    return _babel_date(value, "d MMMM y", _locale(locale))


def _format_month(value: date, locale: str = "id") -> str:
    """`Maret 2025`: a month and its year."""
    return _babel_date(value, "LLLL y", _locale(locale))


@lru_cache(maxsize=4096)
def _babel_date(value: date, pattern: str, locale: str) -> str:
    """Babel's date in `pattern`, remembered: a day's thousands of reminders name a few dozen
    dates (about 0.3 ms each to format)."""
    return format_date(value, pattern, locale=locale)


def _format_time(value: datetime | time) -> str:
    """`14.30` in WIB."""
    if isinstance(value, datetime):
        value = value.astimezone(TIMEZONE).time()
    return value.strftime("%H.%M")


def _format_number(value: int, locale: str = "id") -> str:
    """`1.261.699` in Indonesian, `1,261,699` in English."""
    return format_decimal(value, locale=_locale(locale))


def _short_name(name: str) -> str:
    """`Joko Hartono Putra` -> `Joko H. P.`: enough to tell a household's members apart in a
    list or a question, without writing out the whole name."""
    first, *rest = name.split() or [""]
    return " ".join([first, *(f"{part[0]}." for part in rest)])


def _format_hours(text: str, locale: str = "id") -> str:
    """`mon-thu 08:00-14:30, fri 08:00-11:00` -> `Senin–Kamis 08.00–14.30, Jumat 08.00–11.00`."""
    names = get_day_names("wide", locale=_locale(locale))
    groups: list[tuple[int, int, tuple[time, time]]] = []
    for day, span in sorted(parse_hours(text).items()):
        if groups and groups[-1][1] == day - 1 and groups[-1][2] == span:
            groups[-1] = (groups[-1][0], day, span)
        else:
            groups.append((day, day, span))
    return ", ".join(
        f"{names[first]}{'–' + names[last] if last != first else ''} "
        f"{_format_time(span[0])}–{_format_time(span[1])}"
        for first, last, span in groups
    )
