"""Hints that a conversation may be archive-worthy. Suggestions only: the caseworker decides.

A pure function of the conversation's facts and texts, so it is cheap to run on every page
view and easy to test. Each reason names what matched, so the caseworker can judge it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# A case number: year/sequence (2026/1234), or the word saksnr/saksnummer with a number.
CASE_NUMBER = re.compile(r"(?<![\d/])(?:19|20)\d{2}/\d{1,7}(?![\d/])")
CASE_WORD = re.compile(r"\bsaks?(?:nr\.?|nummer|nummeret)(?=\W|$)", re.IGNORECASE)
# Word stems, bokmål and nynorsk. \w with re.UNICODE matches æøå.
KEYWORDS: dict[str, re.Pattern[str]] = {
    # søke/søkje (apply) and its forms, but not søk/søkefelt (search).
    "application": re.compile(r"\b(?:søknad\w*|søke|søker|søkes|søkte|søkje|søkjer)\b", re.I),
    "complaint": re.compile(r"\b(?:klage\w*|klaga\w*|klager)\b", re.I),
    "decision": re.compile(r"\b(?:vedtak\w*|vedtek\w*)\b", re.I),
}


@dataclass(frozen=True)
class Suggestion:
    reason: str  # hearing | case_number | application | complaint | decision
    matches: tuple[str, ...]  # the words or numbers that matched, as written


def suggest(meta: Mapping[str, Any] | None, texts: Iterable[str]) -> list[Suggestion]:
    """Why a conversation (its meta and the texts of its messages) may be archive-worthy."""
    found: list[Suggestion] = []
    marked = (meta or {}).get("archive_suggestion")
    if isinstance(marked, Mapping) and marked.get("reason") == "hearing":
        found.append(Suggestion("hearing", ()))
    texts = [t for t in texts if t]
    numbers = _unique(m for t in texts for m in CASE_NUMBER.findall(t))
    words = _unique(m.group(0) for t in texts for m in CASE_WORD.finditer(t))
    if numbers or words:
        found.append(Suggestion("case_number", tuple(numbers + words)))
    for reason, pattern in KEYWORDS.items():
        hits = _unique(m.group(0) for t in texts for m in pattern.finditer(t))
        if hits:
            found.append(Suggestion(reason, tuple(hits)))
    return found


def _unique(values: Iterable[str], limit: int = 5) -> list[str]:
    seen: dict[str, str] = {}
    for v in values:
        seen.setdefault(v.lower(), v)
    return list(seen.values())[:limit]


def suggested_case_number(texts: Iterable[str]) -> str | None:
    """The first case number mentioned, to pre-fill the flag form."""
    for t in texts:
        if t and (m := CASE_NUMBER.search(t)):
            return m.group(0)
    return None
