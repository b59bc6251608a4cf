"""National identity numbers and bank account numbers in free text: found and masked.

Citizens type their fødselsnummer, D-number or bank account number into chat and SMS. We keep
the message as written (it may be a case document), but show the numbers masked wherever they
are not needed: queue rows, search snippets, logs, and the conversation page until someone
allowed to see them reveals one (audited, inbox/views/privacy.py).

Both kinds carry mod-11 check digits, which is what tells an identity number from any other
eleven digits:
- fødselsnummer: DDMMYY + individual number (3) + two check digits (Skatteetaten's weights
  3 7 6 1 8 9 4 5 2 and 5 4 3 2 7 6 5 4 3 2); a D-number has 40 added to the day;
- bank account: 4 + 2 + 5 digits, the last a check digit with weights 5 4 3 2 7 6 5 4 3 2.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date


class Kind(enum.StrEnum):
    FODSELSNUMMER = "fodselsnummer"
    D_NUMBER = "d_number"
    BANK_ACCOUNT = "bank_account"


_FNR_W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_FNR_W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
_ACCOUNT_W = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)

# Eleven digits written as one run, as 6+5 (identity numbers) or 4.2.5 (accounts), with a
# space, dot or hyphen between the groups; never part of a longer run of digits.
_CANDIDATE = re.compile(
    r"(?<![\d])(?:\d{11}|\d{6}[ \-]\d{5}|\d{4}[ .\-]\d{2}[ .\-]\d{5})(?![\d])",
)
# Every candidate has four digits in a row: text without them (most text) is let through by a
# search several times quicker than the one above (queue rows mask each name and line).
_FOUR_DIGITS = re.compile(r"\d{4}")


def mod11(digits: str, weights: tuple[int, ...]) -> int | None:
    """The mod-11 check digit for `digits`, or None when no digit fits (remainder 1)."""
    rest = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    check = 0 if rest == 0 else 11 - rest
    return None if check == 10 else check


def identity_kind(digits: str) -> Kind | None:
    """FODSELSNUMMER or D_NUMBER when the 11 digits are one, else None."""
    if len(digits) != 11 or not digits.isdigit():
        return None
    k1 = mod11(digits[:9], _FNR_W1)
    if k1 is None or k1 != int(digits[9]):
        return None
    k2 = mod11(digits[:10], _FNR_W2)
    if k2 is None or k2 != int(digits[10]):
        return None
    day, month = int(digits[0:2]), int(digits[2:4])
    kind = Kind.FODSELSNUMMER
    if day > 40:
        day, kind = day - 40, Kind.D_NUMBER
    if month > 80:  # synthetic test numbers (Skatteetaten's test register)
        month -= 80
    try:
        date(2000, month, day)  # a leap year: 29 February is a birth date
    except ValueError:
        return None
    return kind


def is_bank_account(digits: str) -> bool:
    if len(digits) != 11 or not digits.isdigit():
        return False
    check = mod11(digits[:10], _ACCOUNT_W)
    return check is not None and check == int(digits[10])


@dataclass(frozen=True)
class Found:
    kind: Kind
    start: int
    end: int


def find(text: str) -> list[Found]:
    """Identity and account numbers in `text`, in order. An eleven-digit number that is a
    valid identity number counts as one (the birth date is the stronger signal)."""
    found = []
    for m in _CANDIDATE.finditer(text or ""):
        digits = re.sub(r"\D", "", m.group())
        kind = identity_kind(digits)
        if kind is None and is_bank_account(digits):
            kind = Kind.BANK_ACCOUNT
        if kind is not None:
            found.append(Found(kind, m.start(), m.end()))
    return found


def kinds(text: str) -> list[Kind]:
    """The kinds of number in `text`, each once, in order of appearance."""
    return list(dict.fromkeys(f.kind for f in find(text)))


def mask(text: str) -> str:
    """`text` with every digit of every identity or account number replaced by `*`."""
    if not text or not _FOUR_DIGITS.search(text) or not _CANDIDATE.search(text):
        return text
    out, last = [], 0
    for f in find(text):
        out.append(text[last : f.start])
        out.append(re.sub(r"\d", "*", text[f.start : f.end]))
        last = f.end
    out.append(text[last:])
    return "".join(out)


def mask_ignoring(text: str, ignorable: str) -> str:
    """Like mask(), for text with markers in it (search highlighting): characters in
    `ignorable` may sit inside a number; the masked number loses them."""
    if not text:
        return text
    pattern = re.compile(rf"[\d{re.escape(ignorable)} .\-]+")

    def repl(m: re.Match[str]) -> str:
        chunk = m.group()
        plain = "".join(c for c in chunk if c not in ignorable)
        masked = mask(plain)
        return chunk if masked == plain else masked

    return pattern.sub(repl, text)
