"""Where a resident can be reported living: a regency or city of Indonesia, or a country.

Regencies and cities: `bot/data/kabupaten_kota.csv`, the 514 kabupaten/kota of the public
repository cahyadsn/wilayah (Kemendagri codes, MIT licence), taken at commit b7ad440 like
`wilayah_3505.csv`. Countries: the ISO 3166 territories of Babel's CLDR data, named in Indonesian
and English, less what is not a country one can live in (the EU, the UN, "unknown region",
uninhabited islands) and less Indonesia itself. A typed name is matched loosely ("surabaya",
"Kab. Malang", "saudi"); the person picks among several matches.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel import Locale

REGENCIES_CSV = Path(__file__).resolve().parent / "data" / "kabupaten_kota.csv"
HOME_REGENCY = "35.05"  # Kabupaten Blitar: living here is not living elsewhere
INDONESIA = "ID"
KINDS = ("regency", "abroad")
MAX_MATCHES = 8  # buttons offered when a typed name matches several places
NAME_LENGTH = (3, 60)
# Territories of CLDR that are no country to live in (groupings, pseudo-locales, uninhabited).
NOT_COUNTRIES = frozenset(
    {"EU", "EZ", "UN", "ZZ", "QO", "XA", "XB", "AQ", "BV", "HM", "CP", "DG", "AC", "TA", "IC", "EA"}
)
_REGENCY_WORDS = re.compile(r"^(kabupaten|kab|kota administrasi|kota adm|kota|kodya)\s+")
_LETTERS = re.compile(r"^[^\W\d_]+(?:[\s.'\u2019()&,-]+[^\W\d_]+)*[.)]?$")


@dataclass(frozen=True)
class Place:
    """A regency/city (`kind` regency, Kemendagri code) or a country (`kind` abroad, ISO code)."""

    kind: str
    code: str

    def name(self, locale: str) -> str:
        """The place's name: the regency's as Kemendagri writes it, the country's in `locale`."""
        if self.kind == "regency":
            return regencies().get(self.code, (self.code, ""))[0]
        return countries(locale).get(self.code, self.code)

    @property
    def key(self) -> str:
        """`regency:35.78` / `abroad:MY`, for callback data and storage."""
        return f"{self.kind}:{self.code}"

    @classmethod
    def from_key(cls, key: str) -> Place | None:
        """The place a key names, or None when it names no known place."""
        kind, _, code = key.partition(":")
        place = cls(kind, code)
        return place if is_known(place) else None


def is_known(place: Place) -> bool:
    """A regency other than the home one, or a country other than Indonesia."""
    if place.kind == "regency":
        return place.code in regencies() and place.code != HOME_REGENCY
    return place.kind == "abroad" and place.code in countries("en") and place.code != INDONESIA


@cache
def regencies() -> dict[str, tuple[str, str]]:
    """Kemendagri code -> (name, province) of every regency and city."""
    with REGENCIES_CSV.open(encoding="utf-8", newline="") as handle:
        return {row["code"]: (row["name"], row["province"]) for row in csv.DictReader(handle)}


@cache
def countries(locale: str) -> dict[str, str]:
    """ISO code -> the country's name in `locale` (Indonesia included, for 'not abroad')."""
    names = Locale.parse("en" if locale == "en" else "id").territories
    return {
        code: name
        for code, name in names.items()
        if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES
    }


def readable(text: str) -> str | None:
    """The typed name tidied (spaces collapsed), or None when it cannot be a place's name:
    too short or long, digits, or symbols."""
    tidy = " ".join(text.split())
    low, high = NAME_LENGTH
    if not low <= len(tidy) <= high or not _LETTERS.match(tidy):
        return None
    return tidy


def find_regencies(text: str) -> list[Place]:
    """Regencies and cities whose name matches the typed text (the home regency included, so
    the caller can say why it is refused): exact names first, then names containing it."""
    full = _fold(text)
    written = [c for c, (name, _) in regencies().items() if full in _full_names(name)]
    if written:  # "Kota Malang", not Kabupaten Malang
        return [Place("regency", code) for code in written]
    wanted = _regency_key(text)
    named = {code: _regency_key(name) for code, (name, _) in regencies().items()}
    return _best(wanted, named, "regency")


def find_countries(text: str) -> list[Place]:
    """Countries (Indonesia included) whose Indonesian or English name matches the typed text."""
    wanted = _fold(text)
    named: dict[str, list[str]] = {}
    for locale in ("id", "en"):
        for code, name in countries(locale).items():
            named.setdefault(code, []).append(_fold(name))
    exact = [code for code, names in named.items() if wanted in names]
    if exact:
        return [Place("abroad", code) for code in sorted(exact)]
    words = [c for c, names in named.items() if any(_has_word(n, wanted) for n in names)]
    return [Place("abroad", code) for code in sorted(words)[:MAX_MATCHES]]


def _best(wanted: str, named: dict[str, str], kind: str) -> list[Place]:
    exact = [code for code, name in named.items() if name == wanted]
    if exact:  # "Malang": Kabupaten Malang and Kota Malang
        return [Place(kind, code) for code in exact]
    words = [code for code, name in named.items() if _has_word(name, wanted)]
    return [Place(kind, code) for code in words[:MAX_MATCHES]]


def _has_word(name: str, wanted: str) -> bool:
    """`wanted` starts a word of `name` ("jakarta" in "jakarta selatan", "saudi")."""
    return len(wanted) >= 3 and re.search(rf"(^|\s){re.escape(wanted)}", name) is not None


def _full_names(name: str) -> tuple[str, str, str]:
    """A regency's name as typed in full: "kota administrasi jakarta selatan", "kota jakarta
    selatan", "kab ..." for "kabupaten ..."."""
    folded = _fold(name)
    return folded, folded.replace("administrasi ", ""), folded.replace("kabupaten ", "kab ")


def _regency_key(text: str) -> str:
    return _REGENCY_WORDS.sub("", _fold(text))


def _fold(text: str) -> str:
    """Lower case, accents and punctuation dropped, spaces collapsed."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z ]", " ", plain.lower()).split())
