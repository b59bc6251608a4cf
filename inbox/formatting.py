"""Fast locale-aware date formatting for long lists (a thread of hundreds of messages).

Flask-Babel's `datetimeformat` looks up the locale and parses the patterns on every call; here
the patterns are compiled once per locale and the result is the same text as
`format_datetime(value, "short")`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any, NamedTuple

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


class ShortFormats(NamedTuple):
    zone: tzinfo
    date_and_time: Callable[[datetime], str]
    time_of_day: Callable[[datetime], str]


def short_formatters() -> ShortFormats:
    """For the current request's locale and time zone (resolved once): a short date and time,
    the same text as `format_datetime(value, "short")`, and a short time of day, the same as
    `format_time(value, "short")`, both in the user's time zone."""
    locale, joined, date, time = _compiled(str(get_locale()))
    zone = get_timezone()

    def date_and_time(value: datetime) -> str:
        local = value.astimezone(zone)
        return joined.replace("{0}", time.apply(local, locale)).replace(
            "{1}", date.apply(local, locale)
        )

    def time_of_day(value: datetime) -> str:
        return time.apply(value.astimezone(zone), locale)

    return ShortFormats(zone, date_and_time, time_of_day)


def short_datetime_formatter() -> Callable[[datetime | None], str]:
    """A formatter for the current request's locale and time zone (resolved once)."""
    date_and_time = short_formatters().date_and_time

    def fmt(value: datetime | None) -> str:
        return "" if value is None else date_and_time(value)

    return fmt


def short_datetime(value: datetime | None) -> str:
    return short_datetime_formatter()(value)
