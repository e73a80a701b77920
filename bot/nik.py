"""The NIK and KK numbers: normalize, parse, validate, mask and build them (pure functions)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from bot.domain import Sex
from bot.errors import InvalidNik

NUMBER_LENGTH = 16
BLITAR_REGENCY = "3505"
BLITAR_KECAMATAN = range(1, 23)
FEMALE_DAY_OFFSET = 40

# Kemendagri province codes (Permendagri 2022, the codes Dukcapil puts in NIKs). 91-96 are the
# Papua provinces: 91 Papua, 92 Papua Barat and, since 2022, 93-96 for the four new ones.
_SUMATRA_JAVA = (11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33, 34, 35, 36)
_EAST = (51, 52, 53, 61, 62, 63, 64, 65, 71, 72, 73, 74, 75, 76, 81, 82, 91, 92, 93, 94, 95, 96)
PROVINCE_CODES = frozenset(str(code) for code in _SUMATRA_JAVA + _EAST)

# Whitespace, dots and every kind of dash people type between groups of digits.
_SEPARATOR_CHARS = r"[\s.\-\u2010-\u2015\u2212]"
_SEPARATORS = re.compile(_SEPARATOR_CHARS + "+")
# A NIK or KK number in free text, as people type it (`3505 1012 0905 0003`, `3505.10...`): 16
# digits or more, maybe split by separators. Longer runs are masked whole: better a phone number
# too many than a NIK with a digit added.
_NUMBER_IN_TEXT = re.compile(rf"\d(?:{_SEPARATOR_CHARS}*\d){{{NUMBER_LENGTH - 1},}}")


@dataclass(frozen=True)
class ParsedNik:
    """A structurally valid NIK and what its digits say."""

    value: str
    province_code: str  # 35
    regency_code: str  # 3505
    kecamatan_code: str  # 350510
    birth_date: date
    sex: Sex
    serial: int


def normalize_number(text: str) -> str:
    """Remove the spaces, dots and dashes people type inside a NIK or KK number."""
    return text if text.isdigit() else _SEPARATORS.sub("", text)


def parse_nik(text: str, *, today: date) -> ParsedNik:
    """Parse a NIK, or raise InvalidNik whose `reason` says what is impossible about it."""
    value, birth_date, sex = decode_nik(text, today=today)
    return ParsedNik(value, value[:2], value[:4], value[:6], birth_date, sex, int(value[12:]))


def decode_nik(text: str, *, today: date) -> tuple[str, date, Sex]:
    """`parse_nik`'s checks with nothing else built, for checking many (an import): the
    normalized NIK, its birth date and sex; or InvalidNik, the same as `parse_nik`'s."""
    plain = len(text) == NUMBER_LENGTH and text.isascii() and text.isdigit()
    value = text if plain else _sixteen_digits(text, prefix="")
    _check_region(value[:6])
    birth_date, sex = _decode_birth(value[6:12], today)
    if value[12:] == "0000":
        raise InvalidNik("serial")
    return value, birth_date, sex


def validate_kk(text: str) -> str:
    """The normalized 16-digit KK number, or InvalidNik (`kk_not_digits`, `kk_length`)."""
    return _sixteen_digits(text, prefix="kk_")


def mask_number(value: str) -> str:
    """`3505********0003`: only the first and last 4 digits of a 16-digit number stay visible."""
    if len(value) == NUMBER_LENGTH and _is_digits(value):
        return value[:4] + "*" * 8 + value[-4:]
    return "*" * len(value)


def mask_numbers_in(text: str) -> str:
    """Free text (a reason, a description, an audit detail) with every NIK- or KK-like
    sequence masked, separators or not: `3505 1012 0905 0003` -> `3505********0003`."""
    return _NUMBER_IN_TEXT.sub(lambda match: mask_number(normalize_number(match.group())), text)


def make_nik(kecamatan_code: str, birth_date: date, sex: Sex, serial: int) -> str:
    """Build the NIK for a kecamatan, birth date, sex and serial (the inverse of parse_nik)."""
    if len(kecamatan_code) != 6 or not _is_digits(kecamatan_code):
        raise ValueError("kecamatan_code must be 6 digits")
    if sex not in ("L", "P") or not 1 <= serial <= 9999:
        raise ValueError("sex must be L or P and serial 1..9999")
    day = birth_date.day + (FEMALE_DAY_OFFSET if sex == "P" else 0)
    ddmmyy = f"{day:02d}{birth_date.month:02d}{birth_date.year % 100:02d}"
    return f"{kecamatan_code}{ddmmyy}{serial:04d}"


def sex_and_birth_warning(parsed: ParsedNik, *, birth_date: date, sex: str) -> str | None:
    """Why the NIK's encoded birth date or sex disagrees with the record, or None if it agrees."""
    if parsed.sex == sex and parsed.birth_date == birth_date:
        return None
    problems = []
    if parsed.sex != sex:
        problems.append(f"sex encoded in the NIK ({parsed.sex}) differs from jenis_kelamin {sex}")
    if _ddmmyy(parsed.birth_date) != _ddmmyy(birth_date):
        problems.append(f"birth date encoded in the NIK differs from tanggal_lahir {birth_date}")
    return "; ".join(problems) or None


def describe_invalid(error: InvalidNik) -> str:
    """A short English sentence saying what is wrong with a NIK or KK number."""
    ctx = error.context
    messages = {
        "not_digits": "NIK must contain only digits",
        "length": f"NIK must be 16 digits, got {ctx.get('length')}",
        "province": f"NIK starts with {ctx.get('province')}, not an Indonesian province code",
        "kecamatan": f"NIK digits 5-6 ({ctx.get('kecamatan')}) are not a kecamatan of"
        " Kabupaten Blitar (01-22)",
        "day": f"NIK birth day {ctx.get('day')} is impossible (01-31, or 41-71 for women)",
        "month": f"NIK birth month {ctx.get('month')} is impossible (01-12)",
        "date": "NIK encodes a birth date that does not exist or is in the future",
        "serial": "NIK serial 0000 is impossible (serials start at 0001)",
        "kk_not_digits": "no_kk must contain only digits",
        "kk_length": f"no_kk must be 16 digits, got {ctx.get('length')}",
    }
    return messages.get(error.reason, f"invalid number ({error.reason})")


def _is_digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


def _sixteen_digits(text: str, *, prefix: str) -> str:
    """The normalized number, or InvalidNik `<prefix>not_digits` / `<prefix>length`."""
    if len(text) == NUMBER_LENGTH and _is_digits(text):
        return text  # as a SIAK export writes it: nothing to normalize
    value = normalize_number(text)
    if value and not _is_digits(value):
        raise InvalidNik(f"{prefix}not_digits")
    if len(value) != NUMBER_LENGTH:
        raise InvalidNik(f"{prefix}length", length=len(value))
    return value


@lru_cache(maxsize=1024)  # an import sees the same few kecamatan codes over and over
def _check_region(code: str) -> None:
    """InvalidNik unless the six digits are a province's and, in Blitar, a kecamatan's."""
    if code[:2] not in PROVINCE_CODES:
        raise InvalidNik("province", province=code[:2])
    if code[:4] == BLITAR_REGENCY and int(code[4:6]) not in BLITAR_KECAMATAN:
        raise InvalidNik("kecamatan", kecamatan=code[4:6])


@lru_cache(maxsize=1 << 17)  # every DDMMYY of a century (73,200): an import sees each often
def _decode_birth(ddmmyy: str, today: date) -> tuple[date, Sex]:
    """Birth date and sex from the DDMMYY digits (day + 40 for women)."""
    day, month, yy = int(ddmmyy[:2]), int(ddmmyy[2:4]), int(ddmmyy[4:])
    if day == 0 or 31 < day <= FEMALE_DAY_OFFSET or day > FEMALE_DAY_OFFSET + 31:
        raise InvalidNik("day", day=day)
    if not 1 <= month <= 12:
        raise InvalidNik("month", month=month)
    sex: Sex = "P" if day > FEMALE_DAY_OFFSET else "L"
    day -= FEMALE_DAY_OFFSET if sex == "P" else 0
    year = today.year - (today.year - yy) % 100
    try:
        born = date(year, month, day)
    except ValueError:
        raise InvalidNik("date", day=day, month=month, year=year) from None
    if born > today:  # later this calendar year: a centenarian, born a century earlier
        born = _century_earlier(born)
    return born, sex


def _century_earlier(born: date) -> date:
    try:
        return born.replace(year=born.year - 100)
    except ValueError:  # 29 February of a year that was not a leap year a century before
        raise InvalidNik("date", day=born.day, month=born.month, year=born.year - 100) from None


def _ddmmyy(value: date) -> tuple[int, int, int]:
    """Day, month and two-digit year: all a NIK can say about a birth date."""
    return value.day, value.month, value.year % 100
