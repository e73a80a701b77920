from datetime import date, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.errors import InvalidNik
from bot.nik import (
    PROVINCE_CODES,
    ParsedNik,
    decode_nik,
    describe_invalid,
    make_nik,
    mask_number,
    normalize_number,
    parse_nik,
    sex_and_birth_warning,
    validate_kk,
)

TODAY = date(2026, 6, 15)
# Born 1 January 1990 in Kanigoro (35 05 10), a man, serial 0003.
NIK = "3505100101900003"


def reason(text: str, today: date = TODAY) -> str:
    with pytest.raises(InvalidNik) as caught:
        parse_nik(text, today=today)
    return caught.value.reason


def test_parse_example():
    assert parse_nik(NIK, today=TODAY) == ParsedNik(
        value=NIK,
        province_code="35",
        regency_code="3505",
        kecamatan_code="350510",
        birth_date=date(1990, 1, 1),
        sex="L",
        serial=3,
    )


def test_woman_has_40_added_to_the_day():
    parsed = parse_nik("3505104701900001", today=TODAY)
    assert (parsed.birth_date, parsed.sex) == (date(1990, 1, 7), "P")


@pytest.mark.parametrize(
    "typed",
    ["3505 1001 0190 0003", "3505.1001.0190.0003", "3505-1001-0190-0003", " 3505100101900003\n"],
)
def test_separators_people_type_are_ignored(typed):
    assert normalize_number(typed) == NIK
    assert parse_nik(typed, today=TODAY).value == NIK


@pytest.mark.parametrize(("yy", "year"), [("26", 2026), ("27", 1927), ("00", 2000), ("99", 1999)])
def test_year_is_the_latest_not_after_today(yy, year):
    assert parse_nik(f"3505100101{yy}0001", today=TODAY).birth_date.year == year


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("35051001019000a3", "not_digits"),
        ("350510010190000🙂", "not_digits"),
        ("".join(chr(0xFF10 + int(d)) for d in "3505100101900003"), "not_digits"),  # full-width
        ("350510010190003", "length"),
        ("35051001019000031", "length"),
        ("", "length"),
        ("9905100101900003", "province"),
        ("2005100101900003", "province"),
        ("3505230101900003", "kecamatan"),
        ("3505000101900003", "kecamatan"),
        ("3505100001900003", "day"),
        ("3505103201900003", "day"),
        ("3505104001900003", "day"),
        ("3505107201900003", "day"),
        ("3505100100900003", "month"),
        ("3505100113900003", "month"),
        ("3505103002900003", "date"),  # 30 February
        ("3505107002900003", "date"),  # a woman born on 30 February
        ("3505102902010003", "date"),  # 29 February 2001
        ("3505100101900000", "serial"),
    ],
)
def test_every_reason_is_reachable(text, expected):
    assert reason(text) == expected


def test_reason_context():
    with pytest.raises(InvalidNik) as caught:
        parse_nik("350510010190003", today=TODAY)
    assert caught.value.context == {"reason": "length", "length": 15}
    with pytest.raises(InvalidNik) as caught:
        parse_nik("3505103501900003", today=TODAY)
    assert caught.value.context["day"] == 35
    with pytest.raises(InvalidNik) as caught:
        parse_nik("3505100113900003", today=TODAY)
    assert caught.value.context["month"] == 13


def test_other_regencies_have_no_kecamatan_check():
    assert parse_nik("3578990101900001", today=TODAY).kecamatan_code == "357899"


def test_born_today_is_fine():
    assert parse_nik(make_nik("350510", TODAY, "P", 1), today=TODAY).birth_date == TODAY


def test_describe_invalid_says_what_is_wrong():
    with pytest.raises(InvalidNik) as caught:
        parse_nik("350510010190003", today=TODAY)
    assert describe_invalid(caught.value) == "NIK must be 16 digits, got 15"
    with pytest.raises(InvalidNik) as caught:
        validate_kk("12345")
    assert describe_invalid(caught.value) == "no_kk must be 16 digits, got 5"


def test_validate_kk():
    assert validate_kk("3505 1012 3456 0001") == "3505101234560001"
    with pytest.raises(InvalidNik) as caught:
        validate_kk("3505101234560001x")
    assert caught.value.reason == "kk_not_digits"
    with pytest.raises(InvalidNik) as caught:
        validate_kk("35051012345600011")
    assert (caught.value.reason, caught.value.context["length"]) == ("kk_length", 17)


def test_mask_examples():
    assert mask_number(NIK) == "3505********0003"
    assert mask_number("12345") == "*****"
    assert mask_number("") == ""
    assert mask_number("3505 1001 0190 0") == "*" * 16  # 16 characters, not 16 digits


def test_make_nik_refuses_impossible_input():
    with pytest.raises(ValueError, match="kecamatan"):
        make_nik("3505", date(1990, 1, 1), "L", 1)
    with pytest.raises(ValueError, match="serial"):
        make_nik("350510", date(1990, 1, 1), "L", 0)
    with pytest.raises(ValueError, match="serial"):
        make_nik("350510", date(1990, 1, 1), "L", 10_000)


def test_warning_when_nik_disagrees_with_the_record():
    parsed = parse_nik(NIK, today=TODAY)
    assert sex_and_birth_warning(parsed, birth_date=date(1990, 1, 1), sex="L") is None
    assert "sex" in (sex_and_birth_warning(parsed, birth_date=date(1990, 1, 1), sex="P") or "")
    message = sex_and_birth_warning(parsed, birth_date=date(1990, 1, 2), sex="L") or ""
    assert "birth date" in message
    assert NIK not in message


def test_centenarian_two_digit_year_is_no_warning():
    parsed = parse_nik("3505100101260001", today=TODAY)  # 2026 by the NIK alone
    assert sex_and_birth_warning(parsed, birth_date=date(1926, 1, 1), sex="L") is None


# --- properties ------------------------------------------------------------------------------

todays = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
sexes = st.sampled_from(["L", "P"])
serials = st.integers(min_value=1, max_value=9999)


@st.composite
def kecamatan_codes(draw):
    """Blitar's 22 kecamatan, or any kecamatan of a real province elsewhere."""
    if draw(st.booleans()):
        return f"3505{draw(st.integers(1, 22)):02d}"
    province = draw(st.sampled_from(sorted(PROVINCE_CODES)))
    regency, kecamatan = draw(st.integers(0, 99)), draw(st.integers(0, 99))
    code = f"{province}{regency:02d}{kecamatan:02d}"
    return code if code[:4] != "3505" else "350501"


@st.composite
def births(draw):
    """A day to parse on and a birth date a NIK can express then (not future, < 100 years)."""
    today = draw(todays)
    born = draw(st.dates(min_value=date(today.year - 99, 1, 1), max_value=today))
    return today, born


@given(kecamatan_codes(), births(), sexes, serials)
def test_round_trip(kecamatan, when, sex, serial):
    today, born = when
    parsed = parse_nik(make_nik(kecamatan, born, sex, serial), today=today)
    assert (parsed.kecamatan_code, parsed.birth_date, parsed.sex, parsed.serial) == (
        kecamatan,
        born,
        sex,
        serial,
    )
    assert (parsed.province_code, parsed.regency_code) == (kecamatan[:2], kecamatan[:4])


@given(kecamatan_codes(), births(), serials)
def test_women_day_is_day_plus_40(kecamatan, when, serial):
    _, born = when
    assert make_nik(kecamatan, born, "P", serial)[6:8] == f"{born.day + 40:02d}"
    assert make_nik(kecamatan, born, "L", serial)[6:8] == f"{born.day:02d}"


@given(todays)
def test_birth_later_this_year_means_a_century_earlier(today):
    tomorrow = today + timedelta(days=1)
    assume(tomorrow.year == today.year)
    assume((tomorrow.month, tomorrow.day) != (2, 29))
    parsed = parse_nik(make_nik("350510", tomorrow, "L", 1), today=today)
    assert parsed.birth_date == tomorrow.replace(year=tomorrow.year - 100)


@given(st.text(alphabet="0123456789", min_size=16, max_size=16))
def test_mask_keeps_first_and_last_four_only(number):
    masked = mask_number(number)
    assert masked == number[:4] + "********" + number[-4:]


@given(st.text())
def test_mask_never_reveals_other_input(text):
    masked = mask_number(text)
    assert len(masked) == len(text)
    if not (len(text) == 16 and text.isascii() and text.isdigit()):
        assert set(masked) <= {"*"}


REASONS = {"not_digits", "length", "province", "kecamatan", "day", "month", "date", "serial"}


def outcome(text: str) -> str:
    """`ok`, or the reason the NIK is refused."""
    try:
        parse_nik(text, today=TODAY)
    except InvalidNik as error:
        return error.reason
    return "ok"


@given(st.text())
def test_any_text_parses_or_says_why(text):
    assert outcome(text) in REASONS | {"ok"}


@given(st.text(alphabet="0123456789", min_size=16, max_size=16))
def test_any_sixteen_digits_parse_or_say_why(digits):
    assert outcome(digits) in REASONS | {"ok"}


@given(st.text(alphabet="0123456789", min_size=0, max_size=30).filter(lambda s: len(s) != 16))
def test_wrong_lengths_are_refused(digits):
    assert reason(digits) == "length"


def decoded(text: str) -> tuple[str, date, str] | str:
    try:
        return decode_nik(text, today=TODAY)
    except InvalidNik as error:
        return error.reason


@given(
    st.one_of(
        st.text(),
        st.text(alphabet="0123456789", min_size=16, max_size=16),
        st.text(alphabet="0123456789", min_size=12, max_size=12).map(lambda d: "3505" + d),
        st.text(alphabet="0123456789 .-", min_size=14, max_size=22),
    )
)
def test_decode_nik_checks_as_parse_nik_does_without_building_it(text):
    """The importer's check (decode_nik) refuses what parse_nik refuses, for the same reason,
    and gives the same number, birth date and sex for the rest."""
    if (why := outcome(text)) != "ok":
        assert decoded(text) == why
    else:
        parsed = parse_nik(text, today=TODAY)
        assert decoded(text) == (parsed.value, parsed.birth_date, parsed.sex)


@given(kecamatan_codes(), births(), sexes, serials)
def test_decode_nik_of_a_made_nik(kecamatan, when, sex, serial):
    today, born = when
    nik = make_nik(kecamatan, born, sex, serial)
    assert decode_nik(nik, today=today) == (nik, born, sex)
    assert decode_nik(nik[:4] + " " + nik[4:], today=today) == (nik, born, sex)
