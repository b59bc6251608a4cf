"""The contract every records-system adapter satisfies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

ANONYMOUS_NAME = "Anonym innbygger"  # an anonymous correspondent: no name, no contact details


@dataclass(frozen=True)
class Correspondent:
    name: str | None  # None for an anonymous citizen
    address: str | None
    role: str  # Noark korrespondanseparttype (M087): EA avsender, EM mottaker, IA, IM internal
    unit: str | None = None  # administrativEnhet of an internal party
    caseworker: str | None = None  # saksbehandler of an internal party
    # The citizen's national identity number, verified through ID-porten (docs/sso.md); sent
    # where the records system takes one (Fiks Arkiv personid, Noark 5 personidentifikator).
    national_id: str | None = None

    @property
    def internal(self) -> bool:
        return self.role in ("IA", "IM")

    @property
    def display_name(self) -> str:
        return self.name or ANONYMOUS_NAME


@dataclass(frozen=True)
class Document:
    title: str
    filename: str
    mime_type: str
    puid: str  # PRONOM id of an archival format
    data: bytes
    sha256: str
    tilknyttet: str = "H"  # H hoveddokument, V vedlegg


@dataclass(frozen=True)
class JournalRequest:
    """One journalpost to make, in an existing case or a new one."""

    external_key: str  # idempotency key: the same key never makes a second entry
    tenant_slug: str
    case_number: str | None
    new_case_title: str | None
    title: str
    journalposttype: str  # I, U, N, X
    document_date: datetime
    correspondents: list[Correspondent]
    documents: list[Document]
    # tilgangsrestriksjon, skjermingshjemmel, skjermingMetadata (M502 codes, comma separated);
    # archiving.noark.Screening derives what is hidden from it.
    screening: dict[str, str] = field(default_factory=dict)
    # offentligTittel of the entry and of a new case: screened words replaced (None: the title)
    public_title: str | None = None
    public_case_title: str | None = None
    created_by: str | None = None  # opprettetAv: the caseworker who flagged the item
    timezone: str = "Europe/Oslo"  # the tenant's: journal dates and years follow it


@dataclass(frozen=True)
class Receipt:
    system_id: str
    case_number: str
    journalpostnummer: str | None
    journal_date: datetime
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CaseInfo:
    """A case (saksmappe) as the records system knows it, looked up when a caseworker flags
    messages into it."""

    case_number: str  # saksaar/sakssekvensnummer
    title: str
    closed: bool = False  # avsluttet: nothing more can be journalled into it


class RecordsUnavailable(Exception):
    """Transient: the records system is down or busy. Retry with back-off."""


class RecordsRejected(Exception):
    """Permanent: the records system refused the entry (bad case number, bad metadata)."""


class RecordsPending(Exception):
    """Handed over to an asynchronous records system (Fiks Arkiv); the receipt comes later.

    journal() raises it after delivering the entry, and again on a retry while no receipt has
    arrived; find_entry() returns the receipt once it is there.
    """

    def __init__(self, message: str, delivered_now: bool = False) -> None:
        super().__init__(message)
        self.delivered_now = delivered_now  # True the first time, when it was handed over


class RecordsSystem(Protocol):
    name: str

    def find_entry(self, external_key: str) -> Receipt | None:
        """The entry made earlier with this key, if any (makes journalling exactly-once)."""
        ...

    def journal(self, request: JournalRequest) -> Receipt:
        """Make the journal entry. Raises RecordsUnavailable or RecordsRejected."""
        ...

    def lookup_case(self, case_number: str) -> CaseInfo | None:
        """The case with this number (year/sequence), None if there is none. Raises
        RecordsUnavailable when the records system cannot answer now."""
        ...
