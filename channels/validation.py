"""Shape and content checks shared by every channel parser (payload -> InboundMessage).

Pure functions, no database: the webhook views and the worker that processes stored raw
events call the same parsers, which raise `InvalidPayload` for what cannot be used.

Citizen text is normalised (inbox/untrusted.py: clean_text, optional_text); provider ids,
which we look things up by, and malformed shapes are refused instead.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from channels.interfaces import InvalidPayload
from inbox.untrusted import (  # noqa: F401 - re-exported for the parsers
    MAX_JSON_DEPTH,
    TRUNCATED_MARK,
    clean_text,
    depth,
    loads,
    max_message_chars,
    optional_text,
)

_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
_ID = re.compile(r"^[^\x00-\x20\x7f-\x9f\ud800-\udfff]{1,254}$")
# Times outside this window are not a real message's time; treated as "unknown".
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


def ident(value: Any) -> str | None:
    """A provider id as str: JSON integers and strings alike; None for anything else,
    including strings with control characters, spaces or surrogates, or over 254 chars."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str):
        value = value.strip()
        if _ID.match(value):
            return value
    return None


def is_text(value: Any) -> bool:
    """True for a string that can be stored as is (no surrogates, no NUL)."""
    return isinstance(value, str) and not _SURROGATE_RE.search(value) and "\x00" not in value


def timestamp(value: Any, *, unit: float = 1.0) -> datetime | None:
    """A Unix time (seconds, or milliseconds with unit=1000) as an aware datetime; None
    for anything that is not a number of a plausible time (not before 2000, not more than a
    day ahead): 1e400, NaN, 10^30 and the like mean "unknown", not an error."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    seconds = value / unit
    latest = datetime.now(UTC) + timedelta(days=1)
    if not EARLIEST.timestamp() <= seconds <= latest.timestamp():
        return None
    return datetime.fromtimestamp(seconds, UTC)


def iso_datetime(value: Any) -> datetime:
    """An ISO 8601 date-time with a UTC offset, in a plausible window, as UTC; raises
    InvalidPayload (never OverflowError for year 1 at +14:00 or year 9999 at -12:00)."""
    if not isinstance(value, str) or len(value) > 64 or not value.isascii():
        raise InvalidPayload("not an ISO 8601 date-time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidPayload("not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise InvalidPayload("the date-time has no UTC offset")
    # Year checked before converting: year 1 at +14:00 has no UTC time in datetime's range.
    if not EARLIEST.year <= parsed.year < 9000:
        raise InvalidPayload("the date-time is out of range")
    naive_utc = parsed.replace(tzinfo=None) - (parsed.utcoffset() or timedelta(0))
    if naive_utc < EARLIEST.replace(tzinfo=None):
        raise InvalidPayload("the date-time is out of range")
    return naive_utc.replace(tzinfo=UTC)


def normal_name(value: Any, limit: int = 200) -> str | None:
    """A person's name as shown to staff: NFC, one line, at most `limit` characters."""
    text = optional_text(value, limit)
    return unicodedata.normalize("NFC", text) if text else None
