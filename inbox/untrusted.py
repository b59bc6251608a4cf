"""Untrusted input made safe to use: text a citizen sent, and JSON bounded in depth.

Text is normalised rather than refused where a person would not notice: lone surrogates
become U+FFFD, NUL and other control characters (except newline and tab) are dropped, and text
longer than MAX_MESSAGE_CHARS is cut with a visible mark, so a message is never lost for being
long. JSON: json.loads recurses, so a body nested 1,500 levels deep raised RecursionError;
`loads` refuses deep nesting first. BoundedJSONProvider makes request.get_json() use it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask.json.provider import DefaultJSONProvider

MAX_JSON_DEPTH = 32
# Shown at the end of a text that was cut to MAX_MESSAGE_CHARS.
TRUNCATED_MARK = "\n[…]"
DEFAULT_MAX_CHARS = 5000
# Characters we drop from citizen text: C0/C1 controls except tab and newline, and the
# Unicode "noncharacters"; lone surrogates are replaced (they cannot be encoded as UTF-8).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def max_message_chars() -> int:
    """MAX_MESSAGE_CHARS of the running app (parsers also run in workers and tests)."""
    from flask import current_app, has_app_context

    if has_app_context():
        return int(current_app.config.get("MAX_MESSAGE_CHARS") or DEFAULT_MAX_CHARS)
    return DEFAULT_MAX_CHARS


def clean_text(value: str, limit: int | None = None) -> str:
    """Citizen text made storable: surrogates replaced, control characters dropped, CRLF
    as LF, and cut at `limit` characters (default MAX_MESSAGE_CHARS) with a visible mark."""
    text = _SURROGATE.sub("\ufffd", value).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    limit = max_message_chars() if limit is None else limit
    if len(text) > limit:
        text = text[: max(limit - len(TRUNCATED_MARK), 0)].rstrip() + TRUNCATED_MARK
    return text


def optional_text(value: Any, limit: int) -> str | None:
    """A short text field (a name, a title): cleaned, one line, at most `limit` characters;
    None when absent, not a string or empty."""
    if not isinstance(value, str):
        return None
    text = " ".join(clean_text(value, 10 * limit).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or None


def depth(value: Any) -> int:
    """How deeply lists and objects nest (iteratively: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in item)
    return deepest


def loads(raw: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads for untrusted bodies: ValueError (never RecursionError) for input that
    nests deeper than `max_depth`, and for non-finite numbers beyond float range."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")  # UnicodeDecodeError is a ValueError
    if _max_bracket_depth(raw) > max_depth:
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    return json.loads(raw, parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def _max_bracket_depth(raw: str) -> int:
    """Nesting depth counted over brackets outside strings, without parsing anything."""
    level = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(raw):
        part = match.group()
        if part in "[{":
            level += 1
            deepest = max(deepest, level)
            if deepest > 10 * MAX_JSON_DEPTH:
                return deepest
        elif part in "]}":
            level -= 1
    return deepest


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's provider with bounded loads: request.get_json() answers a too deeply nested
    body like any other malformed one (400, or None with silent=True)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)
