"""Admins manage their municipality's staff and teams; every user changes their own password.

Through the pages, as admins and their colleagues would: new people sign in with a temporary
password and must replace it, role and team changes show in what people may open and see,
accounts shared with other municipalities are protected, and bad input stores nothing."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask, g
from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import (
    AuditEntry,
    ChannelAccount,
    ChannelKind,
    Conversation,
    Membership,
    Role,
    Team,
    TeamMember,
    User,
)
from inbox.models.base import utcnow
from inbox.services import staff
from inbox.services.users import check_password, temporary_password
from tests.conftest import make_app
from tests.factories import PASSWORD
from tests.staff_support import Browser


@pytest.fixture
def office(app: Flask, factory: Any) -> dict[str, Any]:
    tenant = factory.tenant(name="Eksempel kommune")
    team = factory.team(tenant, "Byggesak")
    admin = factory.user(tenant, Role.ADMIN, name="Ada Admin")
    cw = factory.user(tenant, Role.CASEWORKER, name="Kari Saksbehandler")
    return {"tenant": tenant, "team": team, "admin": admin, "cw": cw, "factory": factory}


def base(office: dict[str, Any]) -> str:
    return f"/admin/staff/{office['tenant'].id}"


def temporary_password_in(page: str) -> str:
    match = re.search(r'id="temporary-password">([^<]+)</code>', page)
    assert match, page
    return match.group(1)


def count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


# --- adding people -----------------------------------------------------------------------


def test_a_new_person_signs_in_with_the_temporary_password_and_must_change_it(app, office):
    admin = Browser(app, office["admin"])
    resp = admin.post(
        f"{base(office)}/people",
        data={"email": " Nina@Eksempel.no ", "name": "Nina  Ny", "role": "caseworker"},
    )
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    page = resp.get_data(as_text=True)
    password = temporary_password_in(page)
    assert "Nina Ny (nina@eksempel.no) kan nå logge inn i Eksempel kommune" in page
    nina = db.session.scalar(select(User).where(User.email == "nina@eksempel.no"))
    assert nina.name == "Nina Ny" and nina.must_change_password
    assert nina.role_in(office["tenant"].id) is Role.CASEWORKER
    # Only the argon2 hash is kept, and the audit log never sees the password.
    assert nina.password_hash.startswith("$argon2") and password not in nina.password_hash
    logged = json.dumps([e.data for e in db.session.scalars(select(AuditEntry))])
    assert password not in logged
    assert "staff.add" in audit_actions()

    # The staff list shows her, with a temporary password.
    listing = admin.text(f"/admin/staff/?tenant={office['tenant'].id}")
    assert "nina@eksempel.no" in listing and "midlertidig passord" in listing

    nina_browser = Browser(app, nina, password)
    for url in ("/", "/search?q=x", "/records/", "/admin/staff/"):
        resp = nina_browser.get(url)
        assert resp.status_code == 303 and resp.headers["Location"].endswith("/account/password")
    page = nina_browser.text("/account/password")
    assert "Du logget inn med et midlertidig passord" in page
    assert nina_browser.post("/language", data={"lang": "nn", "next": "/"}).status_code == 303
    assert "Byt passord" in nina_browser.text("/account/password")

    new = "Nytt og langt passord 2026"
    resp = nina_browser.post(
        "/account/password", data={"current": password, "new": new, "repeat": new}
    )
    assert resp.status_code == 303
    assert nina_browser.get("/").status_code == 200
    db.session.refresh(nina)
    assert not nina.must_change_password and check_password(nina, new)
    assert "password.change" in audit_actions()
    # The temporary password is spent.
    assert Browser(app).sign_in(nina.email, password).status_code == 400
    assert Browser(app).sign_in(nina.email, new).status_code == 302


def test_an_existing_account_only_gets_a_membership(app, office):
    elsewhere = office["factory"].tenant(name="Nabo kommune")
    rita = office["factory"].user(elsewhere, Role.ADMIN, name="Regional Rita")
    old_hash = rita.password_hash
    admin = Browser(app, office["admin"])
    form = {"email": rita.email.upper(), "name": "Someone Else", "role": "records_officer"}
    # She works for a municipality where Ada is not an admin: Ada confirms first.
    resp = admin.post(f"{base(office)}/people", data=form)
    assert resp.status_code == 200 and "Nabo kommune" in resp.get_data(as_text=True)
    resp = admin.post(
        f"{base(office)}/people",
        data={**form, "confirming": "1", "shown_tenant": elsewhere.id, "confirm_existing": "yes"},
    )
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith(f"{base(office)}/people/{rita.id}")
    page = admin.text(resp.headers["Location"])
    assert "hadde allerede en konto" in page and "temporary-password" not in page
    db.session.expire_all()
    assert rita.name == "Regional Rita" and rita.password_hash == old_hash
    assert not rita.must_change_password
    assert rita.role_in(office["tenant"].id) is Role.RECORDS_OFFICER
    assert rita.role_in(elsewhere.id) is Role.ADMIN
    # Adding her again changes nothing.
    resp = admin.post(
        f"{base(office)}/people", data={"email": rita.email, "name": "Rita", "role": "admin"}
    )
    assert resp.status_code == 400
    assert "jobber allerede for denne kommunen" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert rita.role_in(office["tenant"].id) is Role.RECORDS_OFFICER


# --- accounts that already exist elsewhere --------------------------------------------------


def confirm_form(page: str) -> dict[str, Any]:
    """The fields of the confirmation form on the page, with the box ticked."""
    form = page.split('id="confirm-existing"')[1].split("</form>")[0]
    fields: dict[str, Any] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        fields.setdefault(name, []).append(value)
    assert 'name="confirm_existing" value="yes" required' in form
    return {**fields, "confirm_existing": "yes"}


def test_an_account_made_by_another_municipality_is_named_before_it_is_added(app, office):
    """B's admin makes an account for A's new colleague before A does (and knows the
    temporary password). When A's admin adds the address, the page names B, and nothing is
    stored until A's admin ticks the confirmation."""
    factory, tenant = office["factory"], office["tenant"]
    b = factory.tenant(name="Bortenfor kommune")
    b_admin = Browser(app, factory.user(b, Role.ADMIN, name="Bodil Admin"))
    resp = b_admin.post(
        f"/admin/staff/{b.id}/people",
        data={"email": "kari@a.no", "name": "Kari Nordmann", "role": "caseworker"},
    )
    assert resp.status_code == 200  # B's admin got a temporary password for kari@a.no
    kari = db.session.scalar(select(User).where(User.email == "kari@a.no"))
    tables = (User, Membership, AuditEntry)
    before = [count(t) for t in tables]

    admin = Browser(app, office["admin"])
    form = {"email": "Kari@A.no", "name": "Kari", "role": "caseworker"}
    resp = admin.post(f"{base(office)}/people", data=form)
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "kari@a.no har allerede en konto" in page
    others = page.split('id="other-tenants">')[1].split("</ul>")[0]
    assert "Bortenfor kommune" in others and "Eksempel kommune" not in others
    assert 'id="still-temporary"' in page  # nobody has chosen a password for it yet
    assert "temporary-password" not in page
    assert [count(t) for t in tables] == before
    assert kari.role_in(tenant.id) is None

    # Sending the form without the tick stores nothing either.
    confirmed = confirm_form(page)
    unticked = {k: v for k, v in confirmed.items() if k != "confirm_existing"}
    resp = admin.post(f"{base(office)}/people", data=unticked)
    assert resp.status_code == 400
    assert "kryss av i boksen for å bekrefte" in resp.get_data(as_text=True)
    assert [count(t) for t in tables] == before

    resp = admin.post(f"{base(office)}/people", data=confirmed)
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith(f"{base(office)}/people/{kari.id}")
    person_page = admin.text(resp.headers["Location"])
    assert "hadde allerede en konto" in person_page
    assert "Jobber også for" in person_page and "Bortenfor kommune" in person_page
    db.session.expire_all()
    assert kari.role_in(tenant.id) is Role.CASEWORKER and kari.role_in(b.id) is Role.CASEWORKER
    assert kari.name == "Kari Nordmann"  # the account keeps its name and password
    added = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "staff.add", AuditEntry.tenant_id == tenant.id
        )
    ).one()
    assert added.data["other_tenants"] == [b.id] and added.data["new_account"] is False


def test_a_confirmation_covers_only_the_municipalities_that_were_shown(app, office):
    factory = office["factory"]
    b, c = factory.tenant(name="Bortenfor kommune"), factory.tenant(name="Cirkus kommune")
    rita = factory.user(b, Role.CASEWORKER, name="Regional Rita")
    admin = Browser(app, office["admin"])
    form = {"email": rita.email, "name": "Rita", "role": "caseworker"}
    confirmed = confirm_form(admin.post(f"{base(office)}/people", data=form).get_data(as_text=True))
    assert confirmed["shown_tenant"] == [str(b.id)]
    # Meanwhile she joins a third municipality: the confirmation does not cover it.
    db.session.add(Membership(user_id=rita.id, tenant_id=c.id, role=Role.CASEWORKER))
    db.session.commit()
    resp = admin.post(f"{base(office)}/people", data=confirmed)
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert "Bortenfor kommune" in page and "Cirkus kommune" in page
    assert db.session.get(Membership, (rita.id, office["tenant"].id)) is None
    # A made-up list of ids does not stand in for having seen them either.
    resp = admin.post(
        f"{base(office)}/people",
        data={**form, "confirm_existing": "yes", "shown_tenant": ["abc", str(b.id)]},
    )
    assert resp.status_code == 200 and "Cirkus kommune" in resp.get_data(as_text=True)
    assert db.session.get(Membership, (rita.id, office["tenant"].id)) is None
    resp = admin.post(f"{base(office)}/people", data=confirm_form(page))
    assert resp.status_code == 303
    db.session.expire_all()
    assert rita.role_in(office["tenant"].id) is Role.CASEWORKER


def test_an_admin_of_every_municipality_of_the_account_is_not_asked(app, office):
    factory, tenant = office["factory"], office["tenant"]
    other = factory.tenant(name="Nabo kommune")
    nils = factory.user(other, Role.CASEWORKER, name="Nils Nabo")
    db.session.add(Membership(user_id=office["admin"].id, tenant_id=other.id, role=Role.ADMIN))
    db.session.commit()
    admin = Browser(app, office["admin"])
    resp = admin.post(
        f"{base(office)}/people", data={"email": nils.email, "name": "N", "role": "caseworker"}
    )
    assert resp.status_code == 303
    db.session.expire_all()
    assert nils.role_in(tenant.id) is Role.CASEWORKER


def test_an_account_of_no_municipality_is_started_afresh(app, office):
    """Someone removed everywhere: whoever knew the old password (an admin who set it, the
    person who left) and every old session are shut out when it is added again."""
    factory, tenant = office["factory"], office["tenant"]
    b = factory.tenant(name="Bortenfor kommune")
    b_admin = factory.user(b, Role.ADMIN, name="Bodil Admin")
    olav = factory.user(b, Role.CASEWORKER, name="Olav Gammel", email="olav@a.no")
    old_session = Browser(app, olav)
    olav.is_enabled, olav.failed_logins = False, 3
    db.session.commit()
    assert (
        Browser(app, b_admin)
        .post(f"/admin/staff/{b.id}/people/{olav.id}/remove", data={"confirm": "yes"})
        .status_code
        == 303
    )
    db.session.expire_all()
    assert olav.memberships == []

    admin = Browser(app, office["admin"])
    resp = admin.post(
        f"{base(office)}/people",
        data={"email": "olav@a.no", "name": "Olav Ny", "role": "caseworker"},
    )
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    page = resp.get_data(as_text=True)
    password = temporary_password_in(page)
    assert 'id="orphaned"' in page and "Bortenfor" not in page
    db.session.expire_all()
    assert olav.name == "Olav Ny" and olav.must_change_password and olav.is_enabled
    assert olav.failed_logins == 0 and olav.locked_until is None
    assert olav.tenant_ids() == [tenant.id]
    assert count(User) == 4  # the same account, not a new one
    # The old password and the old session are gone; the new one must be replaced at once.
    assert Browser(app).sign_in("olav@a.no", PASSWORD).status_code == 400
    assert "/login" in old_session.get("/").headers["Location"]
    fresh = Browser(app, olav, password)
    assert fresh.get("/").headers["Location"].endswith("/account/password")
    added = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "staff.add", AuditEntry.tenant_id == tenant.id
        )
    ).one()
    assert added.data == {
        "role": "caseworker",
        "new_account": False,
        "orphaned": True,
        "was_disabled": True,
    }
    assert password not in json.dumps(added.data)


# --- roles and removal -------------------------------------------------------------------


def test_a_caseworker_made_records_officer_can_open_the_review_page(app, office):
    cw, admin = Browser(app, office["cw"]), Browser(app, office["admin"])
    assert cw.get("/records/").status_code == 403
    url = f"{base(office)}/people/{office['cw'].id}/role"
    resp = admin.post(url, data={"role": "records_officer"}, follow_redirects=True)
    assert "Rollen er endret." in resp.get_data(as_text=True)
    assert cw.get("/records/").status_code == 200
    assert admin.post(url, data={"role": "caseworker"}).status_code == 303
    assert cw.get("/records/").status_code == 403
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.role"))
    assert [(e.data["old"], e.data["new"]) for e in entries] == [
        ("caseworker", "records_officer"),
        ("records_officer", "caseworker"),
    ]


def test_a_removed_person_loses_access_to_the_municipality(app, office):
    tenant, team, kari = office["tenant"], office["team"], office["cw"]
    db.session.add(TeamMember(team_id=team.id, user_id=kari.id))
    chat = office["factory"].channel(tenant, ChannelKind.WEBCHAT, team_id=team.id)
    conv = office["factory"].conversation(chat)
    conv.assignee_id = kari.id
    db.session.commit()
    cw = Browser(app, kari)
    assert cw.get(f"/c/{conv.id}").status_code == 200
    admin = Browser(app, office["admin"])
    # Removing is destructive: without the ticked confirmation nothing happens.
    resp = admin.post(f"{base(office)}/people/{kari.id}/remove", follow_redirects=True)
    assert "kryss av i boksen" in resp.get_data(as_text=True)
    assert cw.get(f"/c/{conv.id}").status_code == 200
    resp = admin.post(f"{base(office)}/people/{kari.id}/remove", data={"confirm": "yes"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(
        f"/admin/staff/?tenant={tenant.id}"
    )
    assert cw.get(f"/c/{conv.id}").status_code == 404
    assert f'data-conversation-id="{conv.id}"' not in cw.text("/")
    db.session.expire_all()
    assert db.session.get(Membership, (kari.id, tenant.id)) is None
    assert count(TeamMember) == 0
    assert db.session.get(User, kari.id) is not None  # the account stays
    assert conv.assignee_id is None  # the team picks it up
    assert {"staff.remove", "assign"} <= set(audit_actions())
    assert admin.get(f"{base(office)}/people/{kari.id}").status_code == 404


def test_the_last_admin_cannot_remove_or_demote_themselves(app, office):
    ada = office["admin"]
    admin = Browser(app, ada)
    me = f"{base(office)}/people/{ada.id}"
    resp = admin.post(f"{me}/role", data={"role": "caseworker"})
    assert resp.status_code == 400
    assert "Kommunen må ha minst én administrator" in resp.get_data(as_text=True)
    resp = admin.post(f"{me}/remove", data={"confirm": "yes"})
    assert resp.status_code == 400
    assert "minst én administrator" in resp.get_data(as_text=True)
    # A disabled second admin does not count.
    other = office["factory"].user(office["tenant"], Role.ADMIN, name="Otto Admin")
    other.is_enabled = False
    db.session.commit()
    assert admin.post(f"{me}/role", data={"role": "caseworker"}).status_code == 400
    db.session.expire_all()
    assert ada.role_in(office["tenant"].id) is Role.ADMIN
    assert "staff.role" not in audit_actions()
    # With another enabled admin she may step down, and lands in the inbox.
    other.is_enabled = True
    db.session.commit()
    resp = admin.post(f"{me}/role", data={"role": "caseworker"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/")
    assert admin.get("/admin/staff/").status_code == 403


# --- teams -------------------------------------------------------------------------------


def test_team_membership_changes_what_a_caseworker_sees_in_the_queue(app, office):
    tenant, kari = office["tenant"], office["cw"]
    admin, cw = Browser(app, office["admin"]), Browser(app, kari)
    resp = admin.post(f"{base(office)}/teams", data={"name": "  Skatt  "})
    skatt = db.session.scalar(select(Team).where(Team.name == "Skatt"))
    assert resp.headers["Location"].endswith(f"{base(office)}/teams/{skatt.id}")
    chat = office["factory"].channel(tenant, ChannelKind.WEBCHAT, team_id=skatt.id)
    conv = office["factory"].conversation(chat, contact_name="Skattebetaler")
    row = f'data-conversation-id="{conv.id}"'
    assert row not in cw.text("/")

    team_url = f"{base(office)}/teams/{skatt.id}"
    resp = admin.post(f"{team_url}/members", data={"user_id": str(kari.id)})
    assert resp.status_code == 303
    assert row in cw.text("/")
    assert "Kari Saksbehandler" in admin.text(team_url)
    assert "Skatt" in admin.text(f"/admin/staff/?tenant={tenant.id}")
    resp = admin.post(f"{team_url}/members", data={"user_id": str(kari.id)})
    assert resp.status_code == 400 and "allerede med i teamet" in resp.get_data(as_text=True)

    conv.assignee_id = kari.id
    db.session.commit()
    resp = admin.post(f"{team_url}/members/{kari.id}/remove", follow_redirects=True)
    assert "Personen er fjernet fra teamet." in resp.get_data(as_text=True)
    assert row not in cw.text("/")
    assert cw.get(f"/c/{conv.id}").status_code == 404
    db.session.expire_all()
    assert conv.assignee_id is None
    assert {"team.create", "team.join", "team.leave"} <= set(audit_actions())


def test_rename_and_delete_a_team_keeps_its_conversations_with_no_team(app, office):
    tenant, team = office["tenant"], office["team"]
    chat = office["factory"].channel(tenant, ChannelKind.WEBCHAT, team_id=team.id)
    conv = office["factory"].conversation(chat)
    db.session.add(TeamMember(team_id=team.id, user_id=office["admin"].id))
    db.session.commit()
    admin, cw = Browser(app, office["admin"]), Browser(app, office["cw"])
    assert cw.get(f"/c/{conv.id}").status_code == 404  # not in the team
    team_url = f"{base(office)}/teams/{team.id}"
    resp = admin.post(f"{team_url}/rename", data={"name": "Plan og bygg"})
    assert resp.status_code == 303
    db.session.refresh(team)
    assert team.name == "Plan og bygg"
    resp = admin.post(f"{team_url}/delete", follow_redirects=True)
    assert "kryss av i boksen" in resp.get_data(as_text=True)
    assert db.session.get(Team, team.id) is not None
    resp = admin.post(f"{team_url}/delete", data={"confirm": "yes"}, follow_redirects=True)
    assert "Teamet er slettet." in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Team, team.id) is None and count(TeamMember) == 0
    assert db.session.get(Conversation, conv.id).team_id is None
    assert db.session.get(ChannelAccount, chat.id).team_id is None
    assert cw.get(f"/c/{conv.id}").status_code == 200  # no team: every caseworker sees it
    deleted = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "team.delete"))
    assert deleted.data == {"name": "Plan og bygg", "conversations": 1, "channels": 1}
    assert admin.get(team_url).status_code == 404


# --- accounts: unlock, disable, reset ------------------------------------------------------


def test_unlock_a_locked_out_account(app, office):
    kari = office["cw"]
    kari.locked_until, kari.failed_logins = utcnow() + timedelta(minutes=10), 0
    db.session.commit()
    assert Browser(app).sign_in(kari.email, PASSWORD).status_code == 400
    admin = Browser(app, office["admin"])
    assert "Låst til" in admin.text(f"/admin/staff/?tenant={office['tenant'].id}")
    person = f"{base(office)}/people/{kari.id}"
    resp = admin.post(f"{person}/unlock", follow_redirects=True)
    assert "Kontoen er låst opp." in resp.get_data(as_text=True)
    db.session.refresh(kari)
    assert kari.locked_until is None and kari.failed_logins == 0
    assert Browser(app).sign_in(kari.email, PASSWORD).status_code == 302
    assert "staff.unlock" in audit_actions()


def test_disable_enable_and_reset_an_account_of_this_municipality(app, office):
    kari = office["cw"]
    cw, admin = Browser(app, kari), Browser(app, office["admin"])
    person = f"{base(office)}/people/{kari.id}"
    resp = admin.post(f"{person}/disable", follow_redirects=True)
    assert "Kontoen er deaktivert." in resp.get_data(as_text=True)
    assert "Deaktivert" in admin.text(f"/admin/staff/?tenant={office['tenant'].id}")
    # Her open session ends, and she cannot sign in again.
    assert "/login" in cw.get("/").headers["Location"]
    assert Browser(app).sign_in(kari.email, PASSWORD).status_code == 400
    assert admin.post(f"{person}/enable").status_code == 303
    assert Browser(app).sign_in(kari.email, PASSWORD).status_code == 302

    resp = admin.post(f"{person}/password")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    password = temporary_password_in(resp.get_data(as_text=True))
    assert Browser(app).sign_in(kari.email, PASSWORD).status_code == 400
    fresh = Browser(app, kari, password)
    assert fresh.get("/").headers["Location"].endswith("/account/password")
    assert {"staff.disable", "staff.enable", "staff.password_reset"} <= set(audit_actions())


def test_an_account_shared_with_another_municipality_cannot_be_disabled_or_reset(app, office):
    factory, tenant = office["factory"], office["tenant"]
    elsewhere = factory.tenant(name="Nabo kommune")
    rita = factory.user(elsewhere, Role.CASEWORKER, name="Regional Rita")
    db.session.add(Membership(user_id=rita.id, tenant_id=tenant.id, role=Role.CASEWORKER))
    db.session.commit()
    old_hash = rita.password_hash
    admin = Browser(app, office["admin"])
    person = f"{base(office)}/people/{rita.id}"
    page = admin.text(person)
    assert 'id="not-manageable"' in page and 'id="disable-form"' not in page
    for action in ("disable", "password"):
        resp = admin.post(f"{person}/{action}")
        assert resp.status_code == 403, action
        text = resp.get_data(as_text=True)
        assert "jobber også for kommuner der du ikke er administrator" in text
        assert "temporary-password" not in text
    db.session.expire_all()
    assert rita.is_enabled and rita.password_hash == old_hash and not rita.must_change_password
    assert Browser(app).sign_in(rita.email, PASSWORD).status_code == 302
    # Her role here, and a lock-out, are still this municipality's admin's to handle.
    assert admin.post(f"{person}/role", data={"role": "records_officer"}).status_code == 303
    assert admin.post(f"{person}/unlock").status_code == 303
    # An admin of both municipalities may disable her.
    both = factory.user(tenant, Role.ADMIN, name="Regional Admin")
    db.session.add(Membership(user_id=both.id, tenant_id=elsewhere.id, role=Role.ADMIN))
    db.session.commit()
    assert Browser(app, both).post(f"{person}/disable").status_code == 303
    db.session.refresh(rita)
    assert not rita.is_enabled


def test_an_admin_cannot_disable_or_reset_their_own_account_here(app, office):
    ada = office["admin"]
    admin = Browser(app, ada)
    me = f"{base(office)}/people/{ada.id}"
    assert 'id="disable-form"' not in admin.text(me)
    for action in ("disable", "password"):
        resp = admin.post(f"{me}/{action}")
        assert resp.status_code == 400
        assert "Bytt passord" in resp.get_data(as_text=True)
    db.session.refresh(ada)
    assert ada.is_enabled and not ada.must_change_password


def test_the_top_menu_links_admins_to_staff_and_teams(app, office):
    assert "Ansatte og team" not in Browser(app, office["cw"]).text("/")
    page = Browser(app, office["admin"]).text("/")
    assert 'href="/admin/staff/"' in page and "Ansatte og team" in page


# --- bad input, other municipalities, escaping ----------------------------------------------


def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_stored(app, office):
    tenant, kari = office["tenant"], office["cw"]
    office["factory"].team(tenant, "Økonomi")
    admin = Browser(app, office["admin"])
    tables = (User, Membership, Team, TeamMember, AuditEntry)
    before = [count(t) for t in tables]
    person = {"email": "ny@eksempel.no", "name": "Ny Person", "role": "caseworker"}
    bad_people = [
        ({"email": "ikke-en-adresse"}, "gyldig e-postadresse"),
        ({"email": "ny@eksempel"}, "gyldig e-postadresse"),
        ({"email": "a" * 245 + "@kommune.no"}, "gyldig e-postadresse"),
        ({"email": "ny @eksempel.no"}, "gyldig e-postadresse"),
        ({"email": ""}, "gyldig e-postadresse"),
        ({"name": ""}, "navnet til personen"),
        ({"name": "   "}, "navnet til personen"),
        ({"name": "x" * 201}, "navnet til personen"),
        ({"name": "Ny\x00Person"}, "navnet til personen"),
        ({"role": "superuser"}, "Velg en av rollene."),
        ({"role": ""}, "Velg en av rollene."),
    ]
    for change, message in bad_people:
        resp = admin.post(f"{base(office)}/people", data={**person, **change})
        assert resp.status_code == 400, change
        page = resp.get_data(as_text=True)
        assert message in page, change
        assert "temporary-password" not in page
    for name, message in [
        ("", "Gi teamet et navn"),
        ("x" * 121, "Gi teamet et navn"),
        ("byggesak", "finnes allerede et team"),
        ("ØKONOMI", "finnes allerede et team"),
    ]:
        resp = admin.post(f"{base(office)}/teams", data={"name": name})
        assert resp.status_code == 400 and message in resp.get_data(as_text=True), name
    team_url = f"{base(office)}/teams/{office['team'].id}"
    resp = admin.post(f"{team_url}/rename", data={"name": "Økonomi"})
    assert resp.status_code == 400 and "finnes allerede" in resp.get_data(as_text=True)
    resp = admin.post(f"{team_url}/members", data={"user_id": "abc"})
    assert resp.status_code == 400 and "Velg en person." in resp.get_data(as_text=True)
    resp = admin.post(f"{base(office)}/people/{kari.id}/role", data={"role": "owner"})
    assert resp.status_code == 400 and "Velg en av rollene." in resp.get_data(as_text=True)
    assert [count(t) for t in tables] == before
    db.session.expire_all()
    assert kari.role_in(tenant.id) is Role.CASEWORKER
    assert office["team"].name == "Byggesak"


def test_unknown_ids_and_other_municipalities_objects_are_not_found(app, office):
    factory, tenant = office["factory"], office["tenant"]
    other = factory.tenant()
    other_admin = factory.user(other, Role.ADMIN)
    outsider = factory.user(other, Role.CASEWORKER)
    foreign_team = factory.team(other, "Fremmed")
    admin = Browser(app, office["admin"])
    url = base(office)
    for path in (
        f"{url}/people/999999",
        f"{url}/people/{outsider.id}",  # an account that does not work here
        f"{url}/teams/999999",
        f"{url}/teams/{foreign_team.id}",
        "/admin/staff/999999/people/1",
    ):
        assert admin.get(path).status_code == 404, path
    team_url = f"{url}/teams/{office['team'].id}"
    assert admin.post(f"{team_url}/members", data={"user_id": str(outsider.id)}).status_code == 404
    assert admin.post(f"{team_url}/members/{office['cw'].id}/remove").status_code == 404
    assert admin.post(f"{url}/people/{outsider.id}/disable").status_code == 404
    assert admin.post(f"{url}/teams/{foreign_team.id}/delete").status_code == 404
    assert admin.get(f"/admin/staff/?tenant={other.id}").status_code == 404
    assert admin.get("/admin/staff/?tenant=abc").status_code == 404
    # The other municipality's admin cannot reach this one's people or teams.
    theirs = Browser(app, other_admin)
    assert theirs.get(f"{url}/people/{office['cw'].id}").status_code == 404
    assert theirs.post(f"{url}/people/{office['cw'].id}/password").status_code == 404
    assert theirs.post(f"{url}/people", data={"email": "x@y.no", "name": "X"}).status_code == 404
    assert f"{office['cw'].email}" not in theirs.text("/admin/staff/")
    db.session.expire_all()
    assert db.session.get(Team, foreign_team.id) is not None
    assert outsider.is_enabled and db.session.get(Membership, (outsider.id, tenant.id)) is None
    # Records officers and caseworkers are not admins.
    records = Browser(app, factory.user(tenant, Role.RECORDS_OFFICER))
    assert records.get("/admin/staff/").status_code == 403
    assert records.get(f"{url}/people/{office['cw'].id}").status_code == 403
    assert Browser(app, office["cw"]).post(f"{url}/teams", data={"name": "X"}).status_code == 403


def test_an_admin_of_several_municipalities_picks_one(app, office):
    factory = office["factory"]
    other = factory.tenant(name="Nabo kommune")
    neighbour = factory.user(other, Role.CASEWORKER, name="Nils Nabo")
    db.session.add(Membership(user_id=office["admin"].id, tenant_id=other.id, role=Role.ADMIN))
    db.session.commit()
    admin = Browser(app, office["admin"])
    first = admin.text(f"/admin/staff/?tenant={office['tenant'].id}")
    assert "Kari Saksbehandler" in first and "Nils Nabo" not in first
    assert 'id="tenant"' in first  # the municipality picker
    second = admin.text(f"/admin/staff/?tenant={other.id}")
    assert "Nils Nabo" in second and "Kari Saksbehandler" not in second
    assert admin.get(f"/admin/staff/{other.id}/people/{neighbour.id}").status_code == 200
    assert admin.get(f"/admin/staff/{office['tenant'].id}/people/{neighbour.id}").status_code == 404


def test_html_in_names_is_shown_escaped_on_every_page(app, office):
    evil = '<script>alert("x")</script>'
    admin = Browser(app, office["admin"])
    resp = admin.post(
        f"{base(office)}/people",
        data={"email": "evil@eksempel.no", "name": evil, "role": "caseworker"},
    )
    pages = [resp.get_data(as_text=True)]
    user = db.session.scalar(select(User).where(User.email == "evil@eksempel.no"))
    resp = admin.post(f"{base(office)}/teams", data={"name": evil})
    team_url = resp.headers["Location"]
    admin.post(f"{team_url}/members", data={"user_id": str(user.id)})
    pages += [
        admin.text(f"/admin/staff/?tenant={office['tenant'].id}"),
        admin.text(f"{base(office)}/people/{user.id}"),
        admin.text(team_url),
        admin.post(f"{base(office)}/people/{user.id}/password").get_data(as_text=True),
        admin.post(f"{team_url}/rename", data={"name": ""}).get_data(as_text=True),
        admin.post(
            f"{base(office)}/people", data={"email": "bad", "name": evil, "role": "x"}
        ).get_data(as_text=True),
    ]
    # An account of another municipality with such names, on the confirmation page.
    elsewhere = office["factory"].tenant(name=evil)
    other = office["factory"].user(elsewhere, name=evil)
    resp = admin.post(
        f"{base(office)}/people", data={"email": other.email, "name": evil, "role": "caseworker"}
    )
    assert resp.status_code == 200
    pages.append(resp.get_data(as_text=True))
    for page in pages:
        assert "<script>alert" not in page
        assert "&lt;script&gt;" in page


def test_staff_forms_without_a_valid_csrf_token_change_nothing(app, office, base_config):
    strict = make_app({**base_config, "WTF_CSRF_ENABLED": True})
    client = strict.test_client()
    with strict.app_context():
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        resp = client.post(
            "/login",
            data={"email": office["admin"].email, "password": PASSWORD, "csrf_token": token},
        )
        assert resp.status_code == 302
        before = [count(t) for t in (User, Membership, Team, TeamMember, AuditEntry)]
        kari = f"{base(office)}/people/{office['cw'].id}"
        forms = {
            f"{base(office)}/people": {"email": "x@eksempel.no", "name": "X", "role": "admin"},
            f"{kari}/role": {"role": "admin"},
            f"{kari}/remove": {"confirm": "yes"},
            f"{kari}/disable": {},
            f"{kari}/password": {},
            f"{base(office)}/teams": {"name": "Nytt"},
            f"{base(office)}/teams/{office['team'].id}/delete": {"confirm": "yes"},
            "/account/password": {"current": PASSWORD, "new": "x" * 20, "repeat": "x" * 20},
        }
        for url, form in forms.items():
            for bad in ({}, {"csrf_token": "forged"}):
                g.pop("_login_user", None)
                assert client.post(url, data={**form, **bad}).status_code == 400, url
        assert [count(t) for t in (User, Membership, Team, TeamMember, AuditEntry)] == before
    db.session.expire_all()
    assert office["cw"].is_enabled and office["cw"].role_in(office["tenant"].id) is Role.CASEWORKER


# --- the service on its own ----------------------------------------------------------------


def test_temporary_passwords_are_long_random_and_readable(app):
    seen = {temporary_password() for _ in range(200)}
    assert len(seen) == 200
    for password in seen:
        assert re.fullmatch(r"[a-zA-Z2-9]{5}(-[a-zA-Z2-9]{5}){3}", password)
        assert not set(password) & set("0O1lI")


def test_may_manage_account_needs_admin_of_every_tenant_of_the_account(app, factory):
    a, b = factory.tenant(), factory.tenant()
    admin = factory.user(a, Role.ADMIN)
    local = factory.user(a, Role.CASEWORKER)
    regional = factory.user(b, Role.CASEWORKER)
    db.session.add(Membership(user_id=regional.id, tenant_id=a.id, role=Role.CASEWORKER))
    db.session.commit()
    db.session.expire_all()
    assert staff.may_manage_account(admin, local)
    assert not staff.may_manage_account(admin, regional)
    db.session.add(Membership(user_id=admin.id, tenant_id=b.id, role=Role.RECORDS_OFFICER))
    db.session.commit()
    db.session.expire_all()
    assert not staff.may_manage_account(admin, regional)  # a member of b, not its admin
    with pytest.raises(staff.NotAllowed):
        staff.set_enabled(a.id, admin, regional, False)
    db.session.rollback()
    db.session.get(Membership, (admin.id, b.id)).role = Role.ADMIN
    db.session.commit()
    db.session.expire_all()
    staff.set_enabled(a.id, admin, regional, False)
    db.session.commit()
    assert not db.session.get(User, regional.id).is_enabled


def test_service_lists_people_and_teams_of_one_tenant(app, office):
    factory, tenant = office["factory"], office["tenant"]
    factory.user(factory.tenant(), Role.ADMIN, name="Elsewhere")
    db.session.add(TeamMember(team_id=office["team"].id, user_id=office["cw"].id))
    db.session.commit()
    people = staff.people(tenant.id)
    assert [(p.user.name, p.role, [t.name for t in p.teams]) for p in people] == [
        ("Ada Admin", Role.ADMIN, []),
        ("Kari Saksbehandler", Role.CASEWORKER, ["Byggesak"]),
    ]
    [team] = staff.teams(tenant.id)
    assert team.team.name == "Byggesak" and [u.name for u in team.members] == ["Kari Saksbehandler"]
