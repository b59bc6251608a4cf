"""Normalised forms of how a citizen can be reached, for matching contacts across channels.

Pure functions with no imports from the app: the models store these forms in indexed columns
(so matching is an index lookup, never a scan), and migrations use them to fill those columns.
"""

from __future__ import annotations

import re
import unicodedata

_PHONE_JUNK = re.compile(r"[\s().\-/]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_phone(raw: str | None) -> str | None:
    """E.164; bare 8-digit numbers are Norwegian (+47)."""
    s = _PHONE_JUNK.sub("", raw or "")
    if s.startswith("00"):
        s = "+" + s[2:]
    if re.fullmatch(r"\d{8}", s):
        s = "+47" + s
    return s if re.fullmatch(r"\+\d{8,15}", s) else None


def normalise_email(raw: str | None) -> str | None:
    s = (raw or "").strip().lower()
    return s if _EMAIL.match(s) else None


def normalise_name(raw: str | None) -> str | None:
    """Case- and spacing-insensitive full name; a single word is too weak to suggest a match."""
    s = " ".join(unicodedata.normalize("NFKC", raw or "").casefold().split())
    return s if len(s.split(" ")) >= 2 else None


def identity_norm(kind: str, value: str | None) -> str | None:
    """The normalised value of a phone or e-mail identity (None for other kinds)."""
    if kind == "phone":
        return normalise_phone(value)
    if kind == "email":
        return normalise_email(value)
    return None
