"""Fast locale-aware date formatting for long lists (a thread of hundreds of messages).

Flask-Babel's `datetimeformat` looks up the locale and parses the patterns on every call; here
the patterns are compiled once per locale (and a date's or a time of day's text remembered) and
the result is the same text as `format_datetime(value, "short")`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import NamedTuple

from babel import Locale
from babel.dates import get_datetime_format, parse_pattern
from flask_babel import get_locale, get_timezone

# Pattern fields (their first letter) whose text depends only on the date, and only on the
# hour and minute. A pattern made only of the one kind or the other gives the same text for the
# same date (or hour and minute), so its texts are remembered: a queue page or a thread formats
# dozens of times, mostly on a few dates.
_DATE_FIELDS = frozenset("GyYuUQqMLlwWdDFgEec")
_CLOCK_FIELDS = frozenset("aBbhHKkm")
_REMEMBERED = 4096  # texts per pattern at most (then forgotten and made again)


class _Part:
    """One compiled pattern of a locale, its texts remembered where that is safe."""

    __slots__ = ("locale", "pattern", "key", "made")

    def __init__(self, pattern: str, locale: Locale) -> None:
        self.locale = locale
        self.pattern = parse_pattern(pattern)
        fields = {name[0] for name in re.findall(r"%\((\w+)\)s", self.pattern.format)}
        self.key: Callable[[datetime], object] | None = None
        if fields <= _DATE_FIELDS:
            self.key = datetime.date
        elif fields <= _CLOCK_FIELDS:
            self.key = _hour_and_minute
        self.made: dict[object, str] = {}

    def __call__(self, local: datetime) -> str:
        if self.key is None:
            return self.pattern.apply(local, self.locale)
        key = self.key(local)
        text = self.made.get(key)
        if text is None:
            if len(self.made) >= _REMEMBERED:
                self.made.clear()
            text = self.made[key] = self.pattern.apply(local, self.locale)
        return text


def _hour_and_minute(local: datetime) -> tuple[int, int]:
    return local.hour, local.minute


@lru_cache(maxsize=16)
def _compiled(locale_name: str) -> tuple[str, _Part, _Part]:
    locale = Locale.parse(locale_name)
    joined = get_datetime_format("short", locale=locale).replace("'", "")
    date = _Part(locale.date_formats["short"].pattern, locale)
    time = _Part(locale.time_formats["short"].pattern, locale)
    return joined, date, time


class ShortFormats(NamedTuple):
    zone: tzinfo
    date_and_time: Callable[[datetime], str]
    time_of_day: Callable[[datetime], str]


def short_formatters() -> ShortFormats:
    """For the current request's locale and time zone (resolved once): a short date and time,
    the same text as `format_datetime(value, "short")`, and a short time of day, the same as
    `format_time(value, "short")`, both in the user's time zone."""
    joined, date, time = _compiled(str(get_locale()))
    zone = get_timezone()

    def date_and_time(value: datetime) -> str:
        local = value.astimezone(zone)
        return joined.replace("{0}", time(local)).replace("{1}", date(local))

    def time_of_day(value: datetime) -> str:
        return time(value.astimezone(zone))

    return ShortFormats(zone, date_and_time, time_of_day)


def short_datetime_formatter() -> Callable[[datetime | None], str]:
    """A formatter for the current request's locale and time zone (resolved once)."""
    date_and_time = short_formatters().date_and_time

    def fmt(value: datetime | None) -> str:
        return "" if value is None else date_and_time(value)

    return fmt


def short_datetime(value: datetime | None) -> str:
    return short_datetime_formatter()(value)
