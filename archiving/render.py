"""Render the messages of a journal entry to archival documents.

The hoveddokument is a PDF/A-2u (PRONOM fmt/478) of the thread: municipality, channel,
participants, every message with its time and provider id, earlier versions of edited messages,
removals, and images embedded. Images in accepted formats also become vedlegg of their own;
other attachments are converted (to PNG) or listed with their checksum.

The same input gives the same bytes: the PDF's dates come from the data (not the clock) and
WeasyPrint's file identifier is a hash of the content. Where libharfbuzz-subset is missing,
WeasyPrint subsets fonts with fontTools, which stamps each subset with the current time unless
SOURCE_DATE_EPOCH (the reproducible-builds convention) fixes it; it is set below.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import undefer

from archiving.interfaces import Document
from archiving.models import ArchiveItem
from inbox import ROOT
from inbox.extensions import db
from inbox.models import Attachment, Conversation, Message, Tenant, User

# A fixed font timestamp for fontTools (see above); an operator's own value is kept.
os.environ.setdefault("SOURCE_DATE_EPOCH", "1577836800")  # 2020-01-01

PDF_TEMPLATES = ROOT / "templates" / "archiving" / "pdf"
PDFA_2U = "fmt/478"
# Accepted as they are (archive-file-formats.json): JPEG/JFIF 1.00-1.02 and PNG.
JFIF_PUID = {b"\x01\x00": "fmt/42", b"\x01\x01": "fmt/43", b"\x01\x02": "fmt/44"}
RAW_JPEG_PUID = "fmt/41"
PNG_PUID = "fmt/13"  # PNG 1.2, the current version of the specification
TEXT_PUID = "x-fmt/111"
# Raster images Pillow can read that are not accepted as they are: converted to PNG.
CONVERTIBLE = {"image/gif", "image/webp", "image/bmp", "image/heic", "image/heif", "image/tiff"}

LABELS = {
    "nb": {
        "channel": "Kanal",
        "participants": "Deltakere",
        "citizen": "Innbygger",
        "anonymous": "Anonym innbygger",
        "municipality": "Kommunen",
        "case": "Sak",
        "new_case": "Ny sak",
        "entry": "Journalpost",
        "type": {"I": "Inngående", "U": "Utgående", "N": "Organinternt", "X": "Organinternt"},
        "message_id": "Meldings-id",
        "edited": "Endret",
        "earlier": "Tidligere tekst, erstattet",
        "removed": "Fjernet av avsender",
        "attachments": "Vedlegg",
        "attached": "lagt ved som eget dokument",
        "converted": "konvertert til PNG og lagt ved som eget dokument",
        "not_archived": "ikke arkivert (format som ikke kan avleveres)",
        "missing": "ikke lastet ned",
        "screening": "Skjerming",
        "item": "Arkivelement",
        "messages": "Meldinger",
    },
    "nn": {
        "channel": "Kanal",
        "participants": "Deltakarar",
        "citizen": "Innbyggjar",
        "anonymous": "Anonym innbyggjar",
        "municipality": "Kommunen",
        "case": "Sak",
        "new_case": "Ny sak",
        "entry": "Journalpost",
        "type": {"I": "Inngåande", "U": "Utgåande", "N": "Organinternt", "X": "Organinternt"},
        "message_id": "Meldings-id",
        "edited": "Endra",
        "earlier": "Tidlegare tekst, erstatta",
        "removed": "Fjerna av avsendaren",
        "attachments": "Vedlegg",
        "attached": "lagt ved som eige dokument",
        "converted": "konvertert til PNG og lagt ved som eige dokument",
        "not_archived": "ikkje arkivert (format som ikkje kan avleverast)",
        "missing": "ikkje lasta ned",
        "screening": "Skjerming",
        "item": "Arkivelement",
        "messages": "Meldingar",
    },
}

_env: Environment | None = None
_fonts = None
_css = None


def _template_env() -> Environment:
    # Its own environment: the worker has no request (and so no UI locale) to render with.
    global _env
    if _env is None:
        _env = Environment(
            loader=FileSystemLoader(str(PDF_TEMPLATES)),
            autoescape=select_autoescape(default=True),
        )
    return _env


@dataclass
class _Attachment:
    filename: str
    content_type: str
    size: int
    sha256: str
    data_uri: str | None  # shown in the PDF
    note: str
    document: Document | None


def render_documents(item: ArchiveItem, tenant: Tenant, messages: list[Message]) -> list[Document]:
    """Hoveddokument first, then vedlegg. Same input, same bytes."""
    conv = db.session.get(Conversation, item.conversation_id)
    assert conv is not None
    labels = LABELS.get(tenant.locale, LABELS["nb"])
    tz = ZoneInfo(tenant.timezone)
    attachments = {m.id: [_attachment(item, a, labels) for a in _attachments(m)] for m in messages}
    html = (
        _template_env()
        .get_template("thread.html")
        .render(
            item=item,
            tenant=tenant,
            conv=conv,
            messages=messages,
            attachments=attachments,
            authors=_authors(messages),
            types={m.message_id: m.journalposttype for m in item.messages},
            labels=labels,
            lang=tenant.locale if tenant.locale in LABELS else "nb",
            when=lambda dt: dt.astimezone(tz).strftime("%d.%m.%Y %H:%M:%S %Z"),
            created=_w3c(item.created_at),
            modified=_w3c(_last_change(item, messages)),
        )
    )
    pdf = _write_pdf(html)
    main = Document(
        title=item.title,
        filename=f"henvendelse-{item.id}-{messages[0].id}.pdf",
        mime_type="application/pdf",
        puid=PDFA_2U,
        data=pdf,
        sha256=hashlib.sha256(pdf).hexdigest(),
    )
    extra = [a.document for m in messages for a in attachments[m.id] if a.document is not None]
    return [main, *extra]


def _write_pdf(html: str) -> bytes:
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    global _fonts, _css
    if _css is None:  # fonts and the stylesheet are the same for every document: load once
        _fonts = FontConfiguration()
        _css = CSS(filename=str(PDF_TEMPLATES / "thread.css"), font_config=_fonts)
    return HTML(string=html, base_url=str(ROOT)).write_pdf(
        pdf_variant="pdf/a-2u", font_config=_fonts, stylesheets=[_css]
    )


def _w3c(dt: datetime) -> str:
    return dt.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _last_change(item: ArchiveItem, messages: list[Message]) -> datetime:
    stamps = [item.created_at]
    for m in messages:
        stamps += [m.sent_at, *(t for t in (m.edited_at, m.removed_at) if t)]
    return max(stamps)


def _authors(messages: list[Message]) -> dict[int, str]:
    ids = {m.author_id for m in messages if m.author_id}
    users = db.session.query(User).filter(User.id.in_(ids)).all() if ids else []
    return {u.id: u.name for u in users}


def _attachments(message: Message) -> list[Attachment]:
    return (
        db.session.query(Attachment)
        .options(undefer(Attachment.data))
        .filter(Attachment.message_id == message.id)
        .order_by(Attachment.id)
        .all()
    )


def _attachment(item: ArchiveItem, att: Attachment, labels: dict) -> _Attachment:  # type: ignore[type-arg]
    data = att.data
    kind = (att.content_type or "").split(";")[0].strip().lower()
    if data is None:
        return _Attachment(
            att.filename, kind, att.size, att.sha256 or "", None, labels["missing"], None
        )
    digest = hashlib.sha256(data).hexdigest()
    base = f"vedlegg-{item.id}-{att.id}"
    puid, out, out_type, note = _archival_form(kind, data, labels)
    doc = None
    if out is not None:
        ext = {"image/jpeg": "jpg", "image/png": "png", "text/plain": "txt"}[out_type]
        doc = Document(
            title=att.filename,
            filename=f"{base}.{ext}",
            mime_type=out_type,
            puid=puid,
            data=out,
            sha256=hashlib.sha256(out).hexdigest(),
            tilknyttet="V",
        )
    uri = None
    if out is not None and out_type.startswith("image/"):
        uri = f"data:{out_type};base64,{base64.b64encode(out).decode('ascii')}"
    return _Attachment(att.filename, kind, len(data), digest, uri, note, doc)


def _archival_form(kind: str, data: bytes, labels: dict) -> tuple:  # type: ignore[type-arg]
    """(puid, bytes, mime type, note) of the attachment in an accepted format, if any."""
    if kind == "image/jpeg" and data[:3] == b"\xff\xd8\xff":
        jfif = data[6:11] == b"JFIF\x00"
        puid = JFIF_PUID.get(data[11:13], RAW_JPEG_PUID) if jfif else RAW_JPEG_PUID
        return puid, data, "image/jpeg", labels["attached"]
    if kind == "image/png" and data[:8] == b"\x89PNG\r\n\x1a\n":
        return PNG_PUID, data, "image/png", labels["attached"]
    if kind in CONVERTIBLE or kind in ("image/jpeg", "image/png"):
        png = _to_png(data)
        if png is not None:
            return PNG_PUID, png, "image/png", labels["converted"]
    if kind == "text/plain":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            return TEXT_PUID, text.encode("utf-8"), "text/plain", labels["attached"]
    return None, None, None, labels["not_archived"]


def _to_png(data: bytes) -> bytes | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.seek(0)  # the first frame of an animation
            out = io.BytesIO()
            # No timestamps or text chunks: the same image gives the same bytes.
            img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else "RGB").save(
                out, format="PNG", optimize=False
            )
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError):
        return None
