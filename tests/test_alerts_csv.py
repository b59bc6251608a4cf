"""Recipient files as municipalities have them: what is sent, and every row that is not."""

from __future__ import annotations

import codecs

import pytest

from channels.sms_alerts.recipients import CsvError, normalise, parse

LIMITS = {"max_bytes": 64 * 1024, "max_rows": 1000}


def rows(parsed):
    return [(r["phone"], r["name"], r["address"]) for r in parsed.recipients]


def reasons(parsed):
    return [(r.row, r.value, r.reason) for r in parsed.rejected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("91234567", "+4791234567"),  # 8 digits: Norwegian
        ("912 34 567", "+4791234567"),
        ("4791234567", "+4791234567"),  # +47 without the plus
        ("+47 912 34 567", "+4791234567"),
        ("0047 91234567", "+4791234567"),
        ("+46701234567", "+46701234567"),  # Swedish, kept as written
        ("4791234567.0", "+4791234567"),  # a spreadsheet's number cell
    ],
)
def test_numbers_are_normalised_to_e164(raw, expected):
    assert normalise(raw) == (expected, None)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("1234567", "invalid"),
        ("01234567", "not_norwegian"),
        ("4,79123E+09", "invalid"),
        ("4.79123E+09", "rounded"),
        ("+47912345678", "invalid"),  # one digit too many for Norway
        ("ring meg", "invalid"),
        ("", "invalid"),
    ],
)
def test_what_is_not_a_number_says_why(raw, reason):
    assert normalise(raw) == (None, reason)


def test_semicolons_header_and_cp1252_from_excel():
    text = (
        "Navn;Telefon;Adresse\r\nÆsa Ødegård;912 34 567;Kvernhusvegen 12\r\nPål;4798765432;Å 1\r\n"
    )
    parsed = parse(text.encode("cp1252"), **LIMITS)
    assert parsed.delimiter == ";" and parsed.header
    assert parsed.encoding == "windows-1252"
    assert rows(parsed) == [
        ("+4791234567", "Æsa Ødegård", "Kvernhusvegen 12"),
        ("+4798765432", "Pål", "Å 1"),
    ]


def test_utf8_with_bom_and_utf16():
    text = "telefon,navn\n91234567,Åse\n"
    bom = parse(codecs.BOM_UTF8 + text.encode(), **LIMITS)
    assert rows(bom) == [("+4791234567", "Åse", None)]
    assert rows(parse(text.encode("utf-16"), **LIMITS)) == rows(bom)


def test_latin1_bytes_cp1252_cannot_read():
    # 0x81 is undefined in Windows-1252: read as ISO 8859-1.
    data = "91234567,Bj\x81rn\n".encode("latin-1")
    parsed = parse(data, **LIMITS)
    assert parsed.encoding == "iso-8859-1"
    assert parsed.recipients[0]["phone"] == "+4791234567"


def test_invalid_duplicate_and_empty_rows_are_listed_with_row_numbers():
    data = b"91234567\n\n912 34 567\nhallo\n\n+4798765432\n01234567\n"
    parsed = parse(data, **LIMITS)
    assert [r["phone"] for r in parsed.recipients] == ["+4791234567", "+4798765432"]
    assert reasons(parsed) == [
        (3, "912 34 567", "duplicate"),
        (4, "hallo", "invalid"),
        (7, "01234567", "not_norwegian"),
    ]
    assert parsed.rejected[0].first_row == 1
    assert parsed.empty_lines == 2


def test_no_header_numbers_in_first_column_tabs():
    parsed = parse(b"91234567\tKari\tStorgata 1\n98765432\tOla\n", **LIMITS)
    assert parsed.delimiter == "\t" and not parsed.header
    assert rows(parsed) == [
        ("+4791234567", "Kari", "Storgata 1"),
        ("+4798765432", "Ola", None),
    ]


def test_unknown_header_is_skipped_not_reported():
    parsed = parse(b"Mottaker\n91234567\n", **LIMITS)
    assert parsed.header and not parsed.rejected
    assert rows(parsed) == [("+4791234567", None, None)]


def test_oversized_empty_binary_and_too_many_rows_are_clear_errors():
    with pytest.raises(CsvError) as too_large:
        parse(b"91234567\n" * 10000, max_bytes=1024, max_rows=100000)
    assert too_large.value.code == "too_large"
    with pytest.raises(CsvError) as empty:
        parse(b"\n\n \n", **LIMITS)
    assert empty.value.code == "empty"
    with pytest.raises(CsvError) as binary:
        parse(b"PK\x03\x04\x00\x00xlsx", **LIMITS)
    assert binary.value.code == "binary"
    with pytest.raises(CsvError) as many:
        parse(b"".join(b"9%07d\n" % i for i in range(20)), max_bytes=10_000, max_rows=10)
    assert many.value.code == "too_many"
