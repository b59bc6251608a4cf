"""Recipients of an alert from an uploaded CSV file: what will be sent, and what was wrong.

Files come from spreadsheets and address registers, so they arrive in many shapes: UTF-8
with or without a byte order mark, UTF-16 (Excel's "Unicode text"), Windows-1252 or
ISO 8859-1 (Excel on Windows in Norway), commas, semicolons or tabs, a header row or none,
numbers with or without +47, with spaces, or as 00 47 ..., empty lines. Every row that is not
used is reported with its row number and the reason; nothing is dropped silently.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from channels.twilio_sms.services import E164_RE

PHONE_HEADERS = (
    "telefon",
    "telefonnummer",
    "tlf",
    "mobil",
    "mobilnummer",
    "phone",
    "number",
    "nummer",
    "mobile",
    "msisdn",
    "tel",
)
NAME_HEADERS = ("navn", "name", "namn", "fullt navn", "full name")
ADDRESS_HEADERS = ("adresse", "address", "gateadresse", "adr")
MAX_FIELD = 300


class CsvError(ValueError):
    """The file cannot be read at all (too large, binary, no rows); `code` names why."""

    def __init__(self, code: str, **details: Any) -> None:
        super().__init__(code)
        self.code = code
        self.details = details


@dataclass
class Rejected:
    row: int  # 1-based line number in the file, as a spreadsheet shows it
    value: str
    reason: str  # "invalid", "duplicate", "not_norwegian", "rounded", "too_long"
    first_row: int | None = None  # for duplicates: the row it repeats

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"row": self.row, "value": self.value, "reason": self.reason}
        if self.first_row is not None:
            d["first_row"] = self.first_row
        return d


@dataclass
class Parsed:
    recipients: list[dict[str, Any]] = field(default_factory=list)  # phone, name, address, row
    rejected: list[Rejected] = field(default_factory=list)
    empty_lines: int = 0
    encoding: str = "utf-8"
    delimiter: str = ","
    header: bool = False


def normalise(raw: str, country_code: str = "47") -> tuple[str | None, str | None]:
    """(E.164 number, None) or (None, reason). Norwegian numbers may lack +47."""
    value = (raw or "").strip()
    if re.fullmatch(r"\d(\.\d+)?[eE]\+?\d+", value):
        return None, "rounded"  # a spreadsheet turned it into 4,79123E+09
    value = re.sub(r"[\s\-().\u00a0/]", "", value.removesuffix(".0"))
    if value.startswith("00"):
        value = "+" + value[2:]
    if value.isdigit():
        if len(value) == 8 and country_code == "47":
            if value[0] in "01":
                return None, "not_norwegian"  # Norwegian numbers begin with 2-9
            value = "+47" + value
        elif len(value) == 10 and value.startswith("47") and country_code == "47":
            value = "+" + value  # +47 written without the plus
        else:
            return None, "invalid"
    if not E164_RE.match(value):
        return None, "invalid"
    if value.startswith("+47") and (len(value) != 11 or value[3] in "01"):
        return None, "invalid"
    return value, None


def decode(data: bytes) -> tuple[str, str]:
    """The text of the file and the encoding it was read with."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise CsvError("encoding") from exc
    if b"\x00" in data:
        raise CsvError("binary")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "iso-8859-1"


def _delimiter(lines: list[str]) -> str:
    sample = [line for line in lines if line.strip()][:20]
    best, best_score = ",", -1
    for d in (";", "\t", ","):
        counts = [line.count(d) for line in sample]
        score = min(counts) if counts else 0
        if score > best_score:
            best, best_score = d, score
    return best if best_score > 0 else ","


def _columns(header: list[str]) -> dict[str, int] | None:
    names = [h.strip().strip('"').lower() for h in header]
    cols: dict[str, int] = {}
    for i, n in enumerate(names):
        if "phone" not in cols and n in PHONE_HEADERS:
            cols["phone"] = i
        elif "name" not in cols and n in NAME_HEADERS:
            cols["name"] = i
        elif "address" not in cols and n in ADDRESS_HEADERS:
            cols["address"] = i
    return cols if "phone" in cols else None


def parse(data: bytes, *, max_bytes: int, max_rows: int, country_code: str = "47") -> Parsed:
    """Recipients from a CSV file; raises CsvError when the file cannot be used at all."""
    if len(data) > max_bytes:
        raise CsvError("too_large", max_kib=max_bytes // 1024)
    text, encoding = decode(data)
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise CsvError("empty")
    delimiter = _delimiter(lines)
    parsed = Parsed(encoding=encoding, delimiter=delimiter)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    cols: dict[str, int] = {"phone": 0, "name": 1, "address": 2}
    seen: dict[str, int] = {}
    first = True
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                parsed.empty_lines += 1
                continue
            if first:
                first = False
                named = _columns(row)
                if named is not None:
                    cols, parsed.header = named, True
                    continue
                if normalise(row[0], country_code)[0] is None and not re.search(r"\d", row[0]):
                    parsed.header = True  # a header we do not know: numbers in column 1
                    continue
            if len(parsed.recipients) + len(parsed.rejected) >= max_rows:
                raise CsvError("too_many", max_rows=max_rows)
            raw = row[cols["phone"]].strip() if cols["phone"] < len(row) else ""
            shown = raw[:40]
            phone, reason = normalise(raw, country_code)
            if phone is None:
                parsed.rejected.append(Rejected(line, shown, reason or "invalid"))
                continue
            if phone in seen:
                parsed.rejected.append(Rejected(line, shown, "duplicate", seen[phone]))
                continue
            extra = {}
            for key in ("name", "address"):
                i = cols.get(key)
                value = row[i].strip() if i is not None and i < len(row) else ""
                if len(value) > MAX_FIELD:
                    value = value[:MAX_FIELD]
                extra[key] = value or None
            seen[phone] = line
            parsed.recipients.append({"phone": phone, "row": line, **extra})
    except csv.Error as exc:
        raise CsvError("malformed", line=reader.line_num) from exc
    if not parsed.recipients and not parsed.rejected:
        raise CsvError("empty")
    return parsed


def dedupe(entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Rejected]]:
    """Entries (from a saved list or contacts) by number, the first of each kept."""
    seen: dict[str, int] = {}
    kept, rejected = [], []
    for i, e in enumerate(entries, start=1):
        phone, reason = normalise(str(e.get("phone") or ""))
        if phone is None:
            rejected.append(Rejected(i, str(e.get("phone") or "")[:40], reason or "invalid"))
        elif phone in seen:
            rejected.append(Rejected(i, phone, "duplicate", seen[phone]))
        else:
            seen[phone] = i
            kept.append({**e, "phone": phone, "row": i})
    return kept, rejected
