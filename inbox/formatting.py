"""Fast locale-aware date formatting for long lists (a thread of hundreds of messages).

Flask-Babel's `datetimeformat` looks up the locale and parses the patterns on every call; here
the patterns are compiled once per locale and the result is the same text as
`format_datetime(value, "short")`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import get_datetime_format, parse_pattern
from flask_babel import get_locale, get_timezone


@lru_cache(maxsize=16)
def _compiled(locale_name: str) -> tuple[Locale, str, Any, Any]:
    locale = Locale.parse(locale_name)
    joined = get_datetime_format("short", locale=locale).replace("'", "")
    date = parse_pattern(locale.date_formats["short"].pattern)
    time = parse_pattern(locale.time_formats["short"].pattern)
    return locale, joined, date, time


def short_datetime_formatter() -> Callable[[datetime | None], str]:
    """A formatter for the current request's locale and time zone (resolved once)."""
    locale, joined, date, time = _compiled(str(get_locale()))
    zone = get_timezone()

    def fmt(value: datetime | None) -> str:
        if value is None:
            return ""
        local = value.astimezone(zone)
        return joined.replace("{0}", time.apply(local, locale)).replace(
            "{1}", date.apply(local, locale)
        )

    return fmt


def short_datetime(value: datetime | None) -> str:
    return short_datetime_formatter()(value)
