"""Citizen HTML to plain text. We store plain text only and never render citizen HTML."""

from __future__ import annotations

import html
import re

import nh3

_BREAKS = re.compile(r"<br\s*/?>|</(?:p|div|li|blockquote|h[1-6])\s*>", re.IGNORECASE)
_BLANKS = re.compile(r"\n{3,}")


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: tags removed (script/style with their content),
    entities decoded, paragraph and line breaks kept as newlines."""
    marked = _BREAKS.sub("\n", fragment or "")
    # With no allowed tags nh3 keeps only text (escaped); script/style content is dropped.
    cleaned = nh3.clean(marked, tags=set(), attributes={}, strip_comments=True)
    text = html.unescape(cleaned).replace("\r\n", "\n").replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
