"""The archival rendering: PDF/A-2u with every message, deterministic, images as vedlegg."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pikepdf
import pytest
from PIL import Image

from archiving import render
from archiving.journal import parts
from inbox.extensions import db
from inbox.models import Attachment, ChannelKind, MessageRevision, Role
from tests.archiving_support import START, flagged, pdf_text, thread

BODIES = [
    "Hei, jeg vil klage på vedtaket i byggesak 2026/1234.",
    "Takk, vi ser på klagen din.",
    "Her er bilde av garasjen æøå ÆØÅ.",
]


def png(color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buf, format="PNG")
    return buf.getvalue()


def gif() -> bytes:
    buf = io.BytesIO()
    Image.new("P", (20, 20), 1).save(buf, format="GIF")
    return buf.getvalue()


@pytest.fixture
def setup(app, factory):  # type: ignore[no-untyped-def]
    tenant = factory.tenant(name="Værnes kommune")
    account = factory.channel(tenant, ChannelKind.SMS, name="SMS 2222")
    staff = factory.user(tenant, Role.CASEWORKER, name="Siri Saksbehandler")
    conv = thread(account, staff, BODIES)
    return tenant, conv, staff


def test_pdf_is_pdfa_2u_with_every_message_and_embedded_fonts(setup, tmp_path):
    tenant, conv, staff = setup
    messages = sorted(conv_messages(conv), key=lambda m: m.sent_at)
    messages[1].revisions.append(
        MessageRevision(body="Takk, vi ser på det.", replaced_at=START + timedelta(minutes=2))
    )
    messages[1].edited_at = START + timedelta(minutes=2)
    messages[2].removed_at = START + timedelta(minutes=5)
    db.session.commit()
    item = flagged(conv, staff)
    docs = render.render_documents(item, tenant, messages)

    main = docs[0]
    assert (main.puid, main.mime_type, main.tilknyttet) == ("fmt/478", "application/pdf", "H")
    assert main.sha256 == hashlib.sha256(main.data).hexdigest()
    with pikepdf.open(io.BytesIO(main.data)) as pdf:
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == "2"
        assert meta["pdfaid:conformance"] == "U"
        fonts = [
            font for page in pdf.pages for font in page.obj.Resources.get("/Font", {}).values()
        ]
        assert fonts
        for font in fonts:
            descriptor = (
                font.DescendantFonts[0].FontDescriptor
                if "/DescendantFonts" in font
                else font.FontDescriptor
            )
            assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))

    text = pdf_text(main.data, tmp_path)
    for expected in [
        "Værnes kommune",
        "SMS 2222",
        "Kari Nordmann",
        "Siri Saksbehandler",
        *BODIES,
        "Takk, vi ser på det.",  # the earlier text of the edited reply
        "Fjernet av avsender",
        *(m.provider_message_id for m in messages),
    ]:
        assert expected in text, expected


def conv_messages(conv):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from inbox.models import Message

    return list(db.session.scalars(select(Message).where(Message.conversation_id == conv.id)))


def test_same_input_gives_the_same_bytes(setup):
    tenant, conv, staff = setup
    item = flagged(conv, staff)
    first = [d.data for _, msgs in parts(item) for d in render.render_documents(item, tenant, msgs)]
    db.session.expire_all()
    again = [d.data for _, msgs in parts(item) for d in render.render_documents(item, tenant, msgs)]
    assert first == again
    assert len(first) == 3  # I, U, I


def test_images_are_embedded_and_attached_and_others_listed(setup, tmp_path):
    tenant, conv, staff = setup
    last = sorted(conv_messages(conv), key=lambda m: m.sent_at)[-1]
    photo = png()
    for name, kind, data in [
        ("garasje.png", "image/png", photo),
        ("kart.gif", "image/gif", gif()),
        ("skjema.docx", "application/msword", b"PK\x03\x04 not really"),
    ]:
        db.session.add(
            Attachment(
                tenant_id=tenant.id,
                message_id=last.id,
                filename=name,
                content_type=kind,
                size=len(data),
                data=data,
            )
        )
    db.session.commit()
    item = flagged(conv, staff)
    docs = render.render_documents(item, tenant, [last])
    main, *vedlegg = docs
    assert [(d.filename.rsplit(".", 1)[1], d.mime_type, d.puid, d.tilknyttet) for d in vedlegg] == [
        ("png", "image/png", "fmt/13", "V"),
        ("png", "image/png", "fmt/13", "V"),  # the GIF, converted
    ]
    assert vedlegg[0].data == photo  # accepted as it is: unaltered
    assert all(d.sha256 == hashlib.sha256(d.data).hexdigest() for d in docs)
    with pikepdf.open(io.BytesIO(main.data)) as pdf:
        images = [
            x
            for p in pdf.pages
            for x in p.obj.Resources.get("/XObject", {}).values()
            if x.get("/Subtype") == "/Image"
        ]
        assert len(images) == 2
    text = pdf_text(main.data, tmp_path)
    assert "skjema.docx" in text and "ikke arkivert" in text
