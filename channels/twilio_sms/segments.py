"""How many SMS segments a text costs (GSM 03.38 seven-bit alphabet or UCS-2).

A text in the GSM alphabet fits 160 characters in one SMS, 153 per part when split; anything
outside it (emoji, most accents) switches the whole text to UCS-2: 70, or 67 per part, counted
in UTF-16 code units. Æ, Ø and Å are in the GSM alphabet. Twilio refuses bodies over 1600
characters (error 21617).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MAX_BODY_CHARS = 1600

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Characters reached through the escape code: each costs two septets.
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int  # capacity of each segment at this length
    remaining: int  # units left in the last segment
    max_chars: int = MAX_BODY_CHARS

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def limits(body: str) -> SegmentInfo:
    """Segments and encoding of `body` as a carrier would count them."""
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in body):
        encoding, single, multi = "GSM-7", 160, 153
        units = sum(2 if c in GSM_EXTENDED else 1 for c in body)
    else:
        encoding, single, multi = "UCS-2", 70, 67
        units = len(body.encode("utf-16-le")) // 2
    if units <= single:
        segments, per = (1 if units else 0), single
    else:
        segments, per = -(-units // multi), multi
    remaining = per * max(segments, 1) - units
    return SegmentInfo(encoding, units, segments, per, remaining)
