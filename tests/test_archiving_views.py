"""The caseworker's archive panel and the records staff's review pages, over HTTP."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
import pytest
from sqlalchemy import func, select

from archiving import triage
from archiving.adapters.embedded_models import RecordsCase, RecordsEntry
from archiving.models import ArchiveItem, ArchiveState
from archiving.triage_views import INLINE_CHOOSER_MAX
from inbox.extensions import db
from inbox.models import AuditEntry, ChannelKind, Role
from tests.archiving_support import flagged, thread
from tests.conftest import make_app


@pytest.fixture
def world(app, factory):  # type: ignore[no-untyped-def]
    tenant = factory.tenant()
    account = factory.channel(tenant, ChannelKind.SMS)
    caseworker = factory.user(tenant, Role.CASEWORKER)
    officer = factory.user(tenant, Role.RECORDS_OFFICER)
    conv = thread(
        account, caseworker, ["Jeg vil klage på vedtaket i sak 2026/1234.", "Mottatt.", "Takk"]
    )
    # The case the citizen names exists in the records system (flagging looks it up).
    db.session.add(
        RecordsCase(tenant_id=tenant.id, saksaar=2026, sakssekvensnummer=1234, title="Vedtak")
    )
    db.session.commit()
    return {"tenant": tenant, "conv": conv, "cw": caseworker, "ro": officer}


def test_panel_shows_suggestion_and_flags_chosen_messages(client, login, world):
    conv, cw = world["conv"], world["cw"]
    login(cw)
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert "Dette kan være arkivverdig." in page
    assert "<mark>2026/1234</mark>" in page and "<mark>klage</mark>" in page
    msgs = triage.archivable_messages(conv)
    resp = client.post(
        f"/c/{conv.id}/archive/flag",
        data={
            "choosing": "1",
            "message_ids": [str(msgs[0].id), str(msgs[1].id)],
            f"type_{msgs[1].id}": "N",
            "case_number": "2026/1234",
            "title": "Klage på vedtak",
            "correspondent_name": "Kari Nordmann",
            "screening_code": "UO",
            "screening_basis": "Offl. § 13 jf. fvl. § 13",
            "note": "Hører til byggesaken",
        },
    )
    assert resp.status_code == 303
    page = client.get(resp.location).get_data(as_text=True)
    assert "Flagget for arkivet." in page
    item = db.session.scalars(select(ArchiveItem)).one()
    assert sorted((m.message_id, m.journalposttype) for m in item.messages) == [
        (msgs[0].id, "I"),
        (msgs[1].id, "N"),
    ]
    # Only the message left over can still be flagged.
    assert f'name="message_ids" value="{msgs[2].id}"' in page
    assert f'name="message_ids" value="{msgs[0].id}"' not in page


def test_long_thread_flags_the_rest_or_chooses_on_a_page_of_its_own(client, login, factory):  # type: ignore[no-untyped-def]
    """Past INLINE_CHOOSER_MAX messages the panel offers "everything not yet flagged" and a link
    to a page listing every message, with its text, to choose from."""
    tenant = factory.tenant()
    cw = factory.user(tenant, Role.CASEWORKER)
    bodies = [f"Melding nummer {i}" for i in range(INLINE_CHOOSER_MAX + 5)]
    conv = thread(factory.channel(tenant, ChannelKind.SMS), cw, bodies)
    msgs = triage.archivable_messages(conv)
    login(cw)
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert 'name="message_ids"' not in page
    assert f"De {len(msgs)} meldingene som ikke er flagget ennå, tas med" in page
    assert f'href="/c/{conv.id}/archive/choose"' in page

    # The page of its own: every message with its text; flag two of them, one as N.
    choose = client.get(f"/c/{conv.id}/archive/choose").get_data(as_text=True)
    assert choose.count('name="message_ids"') == len(msgs)
    assert "Melding nummer 7</p>" in choose
    resp = client.post(
        f"/c/{conv.id}/archive/flag",
        data={
            "choosing": "1",
            "message_ids": [str(msgs[0].id), str(msgs[1].id)],
            f"type_{msgs[1].id}": "N",
            "new_case_title": "Henvendelse",
            "title": "Første del",
            "correspondent_name": "Kari Nordmann",
        },
    )
    assert resp.status_code == 303
    first = db.session.scalars(select(ArchiveItem)).one()
    assert sorted((m.message_id, m.journalposttype) for m in first.messages) == [
        (msgs[0].id, "I"),
        (msgs[1].id, "N"),
    ]

    # "The rest" from the conversation page takes exactly the messages not flagged yet.
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert f"De {len(msgs) - 2} meldingene som ikke er flagget ennå, tas med" in page
    resp = client.post(
        f"/c/{conv.id}/archive/flag",
        data={
            "remaining": "1",
            "new_case_title": "Henvendelse",
            "title": "Resten",
            "correspondent_name": "Kari Nordmann",
        },
    )
    assert resp.status_code == 303
    rest = db.session.scalars(select(ArchiveItem).where(ArchiveItem.title == "Resten")).one()
    assert sorted(m.message_id for m in rest.messages) == sorted(m.id for m in msgs[2:])
    assert {m.journalposttype for m in rest.messages} == {"I", "U"}

    # Nothing left: the panel offers no flag form, the choose page says so, and a stale
    # "the rest" form is refused with nothing stored.
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert "Flagg for arkivet</button>" not in page
    choose = client.get(f"/c/{conv.id}/archive/choose").get_data(as_text=True)
    assert "Alle meldingene i samtalen er allerede flagget for arkivet." in choose
    resp = client.post(
        f"/c/{conv.id}/archive/flag",
        data={
            "remaining": "1",
            "new_case_title": "Henvendelse",
            "title": "Igjen",
            "correspondent_name": "Kari Nordmann",
        },
        follow_redirects=True,
    )
    assert "Det er ingenting i denne samtalen å arkivere." in resp.get_data(as_text=True)
    assert db.session.scalars(select(func.count()).select_from(ArchiveItem)).one() == 2


def test_flag_errors_are_shown_and_nothing_is_stored(client, login, world):
    conv = world["conv"]
    login(world["cw"])
    resp = client.post(
        f"/c/{conv.id}/archive/flag",
        data={"case_number": "1234", "title": "x"},
        follow_redirects=True,
    )
    assert "Et saksnummer skrives år/nummer" in resp.get_data(as_text=True)
    assert db.session.scalars(select(ArchiveItem)).all() == []


def test_caseworker_withdraws_and_reflags_after_return(client, login, world):
    conv, cw, ro = world["conv"], world["cw"], world["ro"]
    item = flagged(conv, cw)
    login(ro)
    resp = client.post(f"/records/items/{item.id}/return", data={"comment": "Mangler saksnr"})
    assert resp.status_code == 303
    client.post("/logout")
    login(cw)
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert "Mangler saksnr" in page
    resp = client.post(
        f"/c/{conv.id}/archive/{item.id}/reflag",
        data={"case_number": "2026/1234", "title": "Klage", "anonymous": "1"},
    )
    assert resp.status_code == 303
    db.session.refresh(item)
    assert (item.state, item.case_number, item.anonymous) == (
        ArchiveState.FLAGGED,
        "2026/1234",
        True,
    )
    assert client.post(f"/c/{conv.id}/archive/{item.id}/withdraw").status_code == 303
    db.session.refresh(item)
    assert item.state is ArchiveState.WITHDRAWN


def test_officer_previews_edits_and_approves(app, client, login, world, tasks):
    conv, cw, ro = world["conv"], world["cw"], world["ro"]
    item = flagged(conv, cw)
    login(ro)
    page = client.get("/records/").get_data(as_text=True)
    assert item.title in page
    page = client.get(f"/records/items/{item.id}").get_data(as_text=True)
    assert "fmt/478" in page and "Journalpost 2, type U" in page
    resp = client.get(f"/records/items/{item.id}/documents/0/0")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.headers["Content-Disposition"].startswith("inline")
    with pikepdf.open(io.BytesIO(resp.data)) as pdf:
        assert pdf.open_metadata()["pdfaid:part"] == "2"
    assert resp.headers["X-Content-SHA256"] in page  # the checksum shown is the file's
    download = client.get(f"/records/items/{item.id}/documents/0/0?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.data == resp.data  # the preview is deterministic
    assert client.get(f"/records/items/{item.id}/documents/9/0").status_code == 404

    resp = client.post(
        f"/records/items/{item.id}/edit",
        data={"new_case_title": "Klagesak", "title": "Klage på vedtak", "anonymous": "1"},
    )
    assert resp.status_code == 303
    db.session.refresh(item)
    assert item.title == "Klage på vedtak"
    previewed = client.get(f"/records/items/{item.id}/documents/1/0").data  # after the edit
    assert client.post(f"/records/items/{item.id}/approve").status_code == 303
    assert tasks.run_all() == ["journalled"]
    # What the officer previewed is, byte for byte, what was journalled.
    entry = db.session.scalars(select(RecordsEntry).order_by(RecordsEntry.id)).all()[1]
    stored = (Path(app.config["RECORDS_DIR"]) / entry.documents[0].path).read_bytes()
    assert stored == previewed
    page = client.get("/records/journalled").get_data(as_text=True)
    db.session.refresh(item)
    for r in item.receipts:
        assert r.journalpostnummer in page and r.system_id in page


def test_bulk_approve_checks_each_items_tenant(client, login, world, factory, tasks):
    conv, cw = world["conv"], world["cw"]
    mine = flagged(conv, cw)
    other_tenant = factory.tenant()
    other_cw = factory.user(other_tenant, Role.CASEWORKER)
    theirs = flagged(
        thread(factory.channel(other_tenant, ChannelKind.SMS), other_cw, ["Søknad"]), other_cw
    )
    login(world["ro"])
    resp = client.post(
        "/records/approve", data={"item_ids": [str(mine.id), str(theirs.id)]}, follow_redirects=True
    )
    text = resp.get_data(as_text=True)
    assert "1 element godkjent." in text and "1 element kunne ikke godkjennes." in text
    db.session.expire_all()
    assert db.session.get(ArchiveItem, mine.id).state is ArchiveState.APPROVED
    assert db.session.get(ArchiveItem, theirs.id).state is ArchiveState.FLAGGED
    assert tasks.names() == ["servicetorg.archiving.journal"]


def test_failed_and_waiting_items_are_shown_with_retry(client, login, world, tasks):
    conv, cw, ro = world["conv"], world["cw"], world["ro"]
    failed = flagged(conv, cw, case_number="2026/404", new_case_title="")
    triage.approve(failed, ro)
    db.session.commit()
    tasks.run_all()
    waiting = db.session.get(ArchiveItem, failed.id)
    assert waiting.state is ArchiveState.FAILED
    login(ro)
    page = client.get("/records/").get_data(as_text=True)
    assert "2026/404 does not exist" in page and "Prøv «" in page
    assert client.post(f"/records/items/{failed.id}/retry").status_code == 303
    assert tasks.names() == ["servicetorg.archiving.journal"]
    # A records system that is down: still approved, with the error and the next attempt.
    db.session.refresh(failed)
    failed.last_error = "Connection refused"
    from inbox.models.base import utcnow

    failed.next_attempt_at = utcnow()
    db.session.commit()
    page = client.get("/records/").get_data(as_text=True)
    assert "Venter på arkivsystemet" in page and "Connection refused" in page
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["archive.failed", "archive.retry"]


ROUTES = [
    ("get", "/records/items/{item}"),
    ("get", "/records/items/{item}/documents/0/0"),
    ("post", "/records/items/{item}/edit"),
    ("post", "/records/items/{item}/approve"),
    ("post", "/records/items/{item}/return"),
    ("post", "/records/items/{item}/retry"),
]
CASEWORKER_ROUTES = [
    ("post", "/c/{conv}/archive/flag"),
    ("post", "/c/{conv}/archive/{item}/withdraw"),
    ("post", "/c/{conv}/archive/{item}/reflag"),
]


def test_roles_and_tenants_are_enforced_on_every_route(client, login, world, factory):
    conv, cw = world["conv"], world["cw"]
    item = flagged(conv, cw)
    ids = {"item": item.id, "conv": conv.id}

    def status(method: str, path: str) -> int:
        return getattr(client, method)(path.format(**ids)).status_code

    # Not signed in: to the login page.
    assert all(status(m, p) in (302, 401) for m, p in ROUTES + CASEWORKER_ROUTES)
    login(cw)  # a caseworker is no records officer
    assert [status(m, p) for m, p in ROUTES] == [403] * len(ROUTES)
    assert status("get", "/records/") == 403 and status("get", "/records/journalled") == 403
    assert client.post("/records/approve", data={"item_ids": [str(item.id)]}).status_code == 403
    client.post("/logout")
    stranger = factory.user(factory.tenant(), Role.RECORDS_OFFICER)
    login(stranger)  # a records officer of another municipality sees nothing
    assert [status(m, p) for m, p in ROUTES + CASEWORKER_ROUTES] == [404] * (
        len(ROUTES) + len(CASEWORKER_ROUTES)
    )
    assert item.title not in client.get("/records/").get_data(as_text=True)
    resp = client.post("/records/approve", data={"item_ids": [str(item.id)]})
    assert resp.status_code == 303
    db.session.refresh(item)
    assert item.state is ArchiveState.FLAGGED
    # An item of this conversation reached through another conversation's URL: 404.
    other = thread(
        factory.channel(world["tenant"], ChannelKind.SMS), cw, ["Hei"], identity="+47999"
    )
    client.post("/logout")
    login(cw)
    assert client.post(f"/c/{other.id}/archive/{item.id}/withdraw").status_code == 404


def test_bulk_approve_needs_the_csrf_token(base_config, world):
    csrf_app = make_app({**base_config, "WTF_CSRF_ENABLED": True})
    with csrf_app.test_client() as c:
        c.post("/login", data={"email": world["ro"].email, "password": "correct horse battery"})
        assert c.post("/records/approve", data={"item_ids": ["1"]}).status_code == 400


def test_anonymous_hearing_comment_gets_a_hint(client, login, factory):
    tenant = factory.tenant()
    account = factory.channel(tenant, ChannelKind.WEB_COMMENTS, is_hearing=True)
    caseworker = factory.user(tenant, Role.CASEWORKER)
    conv = factory.conversation(account, body="Jeg er imot reguleringsplanen.")
    conv.meta = {"archive_suggestion": {"reason": "hearing"}}
    db.session.commit()
    login(caseworker)
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert "En kommentar til en høring" in page
    assert "Kommentaren er anonym." in page
    assert 'name="anonymous" value="1" checked' in page  # no name: anonymous, explicitly
