"""Queue rows' relative times ("for 5 min siden"): made once per unit, amount and direction,
and always the text Babel gives for the row's own time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from babel.dates import format_timedelta
from flask_babel import get_locale

from inbox.services import rows

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
# Around every switch of unit and of rounding, both ways.
SECONDS = sorted(
    {
        s * sign
        for base in (60, 3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400)
        for factor in (1.0, 1.09, 1.1, 1.49, 1.5, 2.5, 11.9, 47)
        for s in (int(base * factor) - 1, int(base * factor), int(base * factor) + 1)
        for sign in (-1, 1)
        if s >= 45
    }
)


@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
def test_relative_time_is_babels_text_for_every_row(app, lang):
    rows._relative_texts.clear()
    with app.test_request_context(f"/?lang={lang}"):
        assert str(get_locale()) == lang
        for order in (SECONDS, list(reversed(SECONDS))):  # cold, then from the cache
            for seconds in order:
                delta = timedelta(seconds=seconds)
                expected = format_timedelta(
                    delta, add_direction=True, format="short", threshold=1.1, locale=lang
                )
                assert rows.relative(NOW + delta, NOW) == expected, seconds
        assert len(rows._relative_texts) < len(SECONDS)  # shared between rows


def test_a_moment_ago_is_just_now(app):
    with app.test_request_context("/?lang=nb"):
        assert rows.relative(NOW - timedelta(seconds=30), NOW) == "nå nettopp"
