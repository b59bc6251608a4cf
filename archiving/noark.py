"""The Noark 5 rules every records-system adapter follows: one source of truth.

Code lists come from the Noark 5 tjenestegrensesnitt (kapittel 7, «Kodelister»): M500
tilgangsrestriksjon, M502 skjermingMetadata, M053 journalstatus, M087 korrespondanseparttype,
M083 dokumenttype. The embedded journal (and its deposit export), the Noark 5 REST adapter and
the Fiks Arkiv adapter all ask this module what to write; none of them decides on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from archiving.interfaces import ANONYMOUS_NAME, Correspondent  # noqa: F401 (re-exported)

SCREENED = "*****"

# M502 skjermingMetadata: which metadata elements are screened.
SKJERMING_METADATA: dict[str, str] = {
    "KID": "Skjerming klasseID",
    "TKL": "Skjerming tittel klasse",
    "TM1": "Skjerming tittel mappe - unntatt første linje",
    "TMO": "Skjerming tittel mappe - utvalgte ord",
    "NPS": "Skjerming navn part i sak",
    "TR1": "Skjerming tittel registrering - unntatt første linje",
    "TRO": "Skjerming tittel registrering - utvalgte ord",
    "NA": "Skjerming navn avsender",
    "NM": "Skjerming navn mottaker",
    "TD": "Skjerming tittel dokumentbeskrivelse",
    "MT": "Skjerming merknadstekst",
    "M": "Midlertidig skjerming",
}
# The values that apply to a journal entry of a message, offered on the flag and review forms.
SCREENING_CHOICES = ("TRO", "NA", "NM", "TD", "M")
# Screening with no field chosen screens the title and every name (the conservative choice);
# «Midlertidig skjerming» screens all metadata until the need has been assessed.
DEFAULT_SCREENED = frozenset({"TRO", "NA", "NM"})
ALL_SCREENED = frozenset({"TRO", "NA", "NM", "TD", "MT"})
TITLE_CODES = frozenset({"TR1", "TRO"})

# M500 tilgangsrestriksjon: the standard's values plus the organisation codes municipalities
# use (UO, 13). The legal basis is filled in from the code when records staff leave it empty.
TILGANGSRESTRIKSJON: dict[str, tuple[str, str | None]] = {
    "UO": ("Unntatt offentlighet", None),
    "13": ("Taushetsplikt", "Offl. § 13"),
    "5": ("Unntatt etter offentlighetsloven § 5", "Offl. § 5"),
    "5a": ("Unntatt etter offentlighetsloven § 5a", "Offl. § 5a"),
    "6": ("Unntatt etter offentlighetsloven § 6", "Offl. § 6"),
    "11": ("Unntatt etter offentlighetsloven § 11", "Offl. § 11"),
    "XX": ("Midlertidig sperret", None),
    "P": ("Personalsaker", None),
    "KL": ("Klientsaker", None),
}

# M053 journalstatus, M052 saksstatus and M082 journalposttype.
JOURNALSTATUS = {
    "J": "Journalført",
    "E": "Ekspedert",
    "F": "Ferdigstilt fra saksbehandler",
    "A": "Arkivert",
    "U": "Utgår",
}
SAKSSTATUS = {"B": "Under behandling", "A": "Avsluttet", "U": "Utgår"}
JOURNALPOSTTYPE = {
    "I": "Inngående dokument",
    "U": "Utgående dokument",
    "N": "Organinternt dokument for oppfølging",
    "X": "Organinternt dokument uten oppfølging",
}
# M087 korrespondanseparttype.
KORRESPONDANSEPARTTYPE = {
    "EA": "Avsender",
    "EM": "Mottaker",
    "EK": "Kopimottaker",
    "IA": "Intern avsender",
    "IM": "Intern mottaker",
}
SENDER_ROLES = frozenset({"EA", "IA"})
INTERNAL_ROLES = frozenset({"IA", "IM"})
# M083 dokumenttype: the standard's values (Brev, Rundskriv, …) are all optional; a message
# from a chat, an SMS or a comment is none of them.
DOKUMENTTYPE = ("ME", "Melding")
# What each kind of entry is, appended to the item's title so every entry has its own title.
TITLE_SUFFIX = {
    "I": "spørsmål fra innbygger",
    "U": "svar til innbygger",
    "N": "intern merknad",
    "X": "intern merknad",
}


def journalstatus(journalposttype: str) -> str:
    """M053: a sent reply is ekspedert (E); what came in or stays inside is journalført (J)."""
    return "E" if journalposttype == "U" else "J"


def entry_title(item_title: str, journalposttype: str, limit: int = 300) -> str:
    """The item's title plus what this entry is; the item's part shortened to fit `limit`."""
    suffix = f" – {TITLE_SUFFIX.get(journalposttype, 'melding')}"
    head = (
        item_title
        if len(item_title) + len(suffix) <= limit
        else item_title[: limit - len(suffix) - 1].rstrip() + "…"
    )
    return head + suffix


def parse_codes(value: str | Iterable[str] | None) -> list[str]:
    """The stored skjermingMetadata codes (comma separated) as a list of known codes."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [c for c in (i.strip() for i in items) if c in SKJERMING_METADATA]


def tilgangsrestriksjon_code(value: str) -> str:
    """The code as the list spells it ("uo" -> "UO", "5A" -> "5a"); unknown values unchanged."""
    value = value.strip()
    return next((c for c in TILGANGSRESTRIKSJON if c.lower() == value.lower()), value)


def default_basis(code: str) -> str | None:
    return TILGANGSRESTRIKSJON.get(code, ("", None))[1]


def citizen_party(journalposttype: str, name: str | None, address: str | None) -> Correspondent:
    """The citizen sent an inngående document (EA) and receives an utgående one (EM)."""
    role = "EA" if journalposttype == "I" else "EM"
    return Correspondent(name=name, address=address if name else None, role=role)


def parties(
    journalposttype: str,
    *,
    anonymous: bool,
    name: str | None,
    address: str | None,
    caseworker: str | None,
    unit: str,
) -> list[Correspondent]:
    """Who the entry is from and to. An internal note (N, X) has internal parties only."""
    if journalposttype in ("N", "X"):
        return [
            Correspondent(caseworker or unit, None, "IA", unit=unit, caseworker=caseworker),
            Correspondent(unit, None, "IM", unit=unit),
        ]
    if anonymous:
        return [citizen_party(journalposttype, None, None)]
    return [citizen_party(journalposttype, name or None, address or None)]


@dataclass(frozen=True)
class Screening:
    """Skjerming of one journal entry, derived from what records staff chose."""

    code: str | None  # tilgangsrestriksjon (M500); None: not screened
    basis: str | None  # skjermingshjemmel (M501)
    fields: frozenset[str]  # skjermingMetadata (M502) in effect

    @classmethod
    def of(cls, code: str | None, basis: str | None, fields: str | Iterable[str] | None):  # type: ignore[no-untyped-def]
        if not code:
            return cls(None, None, frozenset())
        chosen = set(parse_codes(fields))
        if "M" in chosen:
            chosen |= ALL_SCREENED
        effective = frozenset(chosen) if chosen else DEFAULT_SCREENED
        return cls(code, basis or default_basis(code) or code, effective)

    @classmethod
    def from_dict(cls, data: dict[str, str] | None) -> Screening:
        data = data or {}
        return cls.of(
            data.get("tilgangsrestriksjon"),
            data.get("skjermingshjemmel"),
            data.get("skjermingMetadata"),
        )

    def as_dict(self) -> dict[str, str]:
        if not self.code:
            return {}
        return {
            "tilgangsrestriksjon": self.code,
            "skjermingshjemmel": self.basis or self.code,
            "skjermingMetadata": ",".join(sorted(self.fields)),
        }

    @property
    def active(self) -> bool:
        return self.code is not None

    def for_entry(self, journalposttype: str) -> Screening:
        """The item's screening as it applies to one of its entries. Records staff screen the
        citizen's name for the whole item; in an entry it is the name of the citizen's role
        there: avsender (NA) of an inngående entry, mottaker (NM) of an utgående one."""
        if journalposttype not in ("I", "U") or not self.names:
            return self
        code = "NA" if journalposttype == "I" else "NM"
        return replace(self, fields=(self.fields - {"NA", "NM"}) | {code})

    @property
    def names(self) -> bool:
        return bool(self.fields & {"NA", "NM"})

    @property
    def title(self) -> bool:
        return bool(self.fields & TITLE_CODES)

    @property
    def documents(self) -> bool:
        return "TD" in self.fields

    def hides_name(self, party: Correspondent) -> bool:
        """Whether this party's name is screened (NA: senders, NM: recipients)."""
        if party.name is None:
            return False  # nothing to hide: an anonymous party has no name
        return ("NA" if party.role in SENDER_ROLES else "NM") in self.fields

    def public_title(self, title: str, names: Iterable[str | None] = ()) -> str:
        """offentligTittel: the title with the screened words replaced by *****.

        Screened names are replaced wherever they occur. With the title screened, the words
        records staff wrote (everything before the entry's kind) are replaced, and with
        TR1 everything after the first line."""
        public = title
        if self.title:
            if "TR1" in self.fields and "\n" in public:
                public = public.split("\n", 1)[0] + " " + SCREENED
            if "TRO" in self.fields:
                head, sep, kind = public.rpartition(" – ")
                if sep and kind in TITLE_SUFFIX.values():
                    public = f"{SCREENED} – {kind}"
                else:
                    public = SCREENED
        return mask_names(public, names)

    def screened_names(self, party_list: Iterable[Correspondent]) -> list[str]:
        return [p.name for p in party_list if p.name and self.hides_name(p)]


def mask_names(text: str, names: Iterable[str | None]) -> str:
    """Every occurrence of a name, and of each of its words, replaced by *****."""
    words: set[str] = set()
    for name in names:
        if name:
            words.add(name.strip())
            words.update(w for w in re.split(r"\s+", name) if len(w) > 1)
    for word in sorted(words, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", SCREENED, text, flags=re.IGNORECASE)
    return text


def local_date(moment: datetime, timezone: str) -> datetime:
    """The moment in the tenant's time zone: journaldato, journalår and saksår follow it."""
    return moment.astimezone(ZoneInfo(timezone or "Europe/Oslo"))
