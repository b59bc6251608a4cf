"""The caseworker side: sign-in and lock-out, team visibility, the conversation page and its
actions, merges and undo, canned replies, languages and bad input."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import (
    AuditEntry,
    CannedReply,
    ChannelKind,
    Contact,
    ContactIdentity,
    Conversation,
    ConversationStatus,
    DeliveryStatus,
    IdentityKind,
    Message,
    Role,
    TeamMember,
    User,
)
from inbox.models.base import utcnow
from inbox.services.access import visible_conversations_clause
from tests.conftest import make_app
from tests.factories import PASSWORD
from tests.staff_support import new_request


@pytest.fixture
def desk(factory: Any) -> dict[str, Any]:
    tenant = factory.tenant()
    team = factory.team(tenant, "Byggesak")
    chat = factory.channel(tenant, ChannelKind.WEBCHAT, name="Nettprat")
    cw = factory.user(tenant, Role.CASEWORKER, name="Kari Saksbehandler")
    db.session.add(TeamMember(team_id=team.id, user_id=cw.id))
    db.session.commit()
    return {"tenant": tenant, "team": team, "chat": chat, "cw": cw}


def count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- sign-in -----------------------------------------------------------------------------


def test_lock_out_after_repeated_failures(app, client, factory, desk):
    user = desk["cw"]
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        resp = client.post("/login", data={"email": user.email, "password": "wrong"})
        assert "Feil e-postadresse eller passord." in resp.get_data(as_text=True)
    resp = client.post("/login", data={"email": user.email, "password": "wrong"})
    assert "Kontoen er låst i 15 minutter" in resp.get_data(as_text=True)
    # Even the right password is refused while locked.
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 400
    assert "låst" in resp.get_data(as_text=True)
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "login.locked"))
    # When the lock has run out, the right password works again.
    db.session.refresh(user)
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 302


def test_guesses_in_parallel_each_count_towards_the_lock_out(app, factory, desk):
    """Two wrong guesses handled at the same time: each counts, so a burst of parallel
    requests cannot get more guesses than LOGIN_MAX_FAILURES before the lock."""
    from sqlalchemy import text

    from inbox.services.signin import record_failure

    user = desk["cw"]
    user.failed_logins = app.config["LOGIN_MAX_FAILURES"] - 2
    db.session.commit()
    db.session.refresh(user)  # this request has read the count ...
    with db.engine.begin() as other:  # ... when another request's wrong guess is committed
        other.execute(
            text("UPDATE user_account SET failed_logins = failed_logins + 1 WHERE id = :id"),
            {"id": user.id},
        )
    assert record_failure(user) is True  # the last guess allowed: locked
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(User, user.id).locked_until is not None


def test_session_cookie_is_http_only_and_secure_in_production(app, client, desk, base_config):
    resp = client.post("/login", data={"email": desk["cw"].email, "password": PASSWORD})
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    prod = make_app({**base_config, "MODE": "production", "DATABASE_URL": _pg_or_skip()})
    assert prod.config["SESSION_COOKIE_SECURE"] is True
    assert prod.config["REMEMBER_COOKIE_SECURE"] is True


def _pg_or_skip() -> str:
    # Production mode insists on PostgreSQL; config validation needs only the URL, no server.
    return "postgresql://nobody@127.0.0.1:1/none"


def test_forged_or_missing_csrf_token_is_refused_and_nothing_stored(
    app, factory, desk, base_config
):
    conv = factory.conversation(desk["chat"])
    strict = make_app({**base_config, "WTF_CSRF_ENABLED": True})
    client = strict.test_client()
    with strict.app_context():
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        resp = client.post(
            "/login", data={"email": desk["cw"].email, "password": PASSWORD, "csrf_token": token}
        )
        assert resp.status_code == 302
        before = (count(Message), count(AuditEntry), count(CannedReply))
        forms = {
            f"/c/{conv.id}/reply": {"body": "Hei", "kind": "reply"},
            f"/c/{conv.id}/assign": {"assignee": "me"},
            f"/c/{conv.id}/status": {"status": "closed"},
            f"/c/{conv.id}/contact/merge": {"contact": "#1"},
            "/admin/canned/": {"title": "T", "body": "B"},
            "/language": {"lang": "en"},
            "/logout": {},
        }
        for url, form in forms.items():
            for bad in ({}, {"csrf_token": "forged"}, {"csrf_token": token + "x"}):
                resp = client.post(url, data={**form, **bad})
                assert resp.status_code == 400, url
                assert "Last siden på nytt" in resp.get_data(as_text=True)
        assert (count(Message), count(AuditEntry), count(CannedReply)) == before
    db.session.refresh(conv)
    assert conv.assignee_id is None and conv.status is ConversationStatus.OPEN


# --- who sees what -----------------------------------------------------------------------


def test_caseworkers_see_their_teams_and_unteamed_conversations(app, factory, desk):
    tenant, cw = desk["tenant"], desk["cw"]
    other_team = factory.team(tenant, "Skatt")
    mine = factory.conversation(factory.channel(tenant, team_id=desk["team"].id))
    nobody = factory.conversation(desk["chat"])
    theirs = factory.conversation(factory.channel(tenant, team_id=other_team.id))
    foreign = factory.conversation(factory.channel(factory.tenant()))
    records = factory.user(tenant, Role.RECORDS_OFFICER)

    def visible(user: User) -> set[int]:
        return set(
            db.session.scalars(select(Conversation.id).where(visible_conversations_clause(user)))
        )

    assert visible(cw) == {mine.id, nobody.id}
    assert visible(records) == {mine.id, nobody.id, theirs.id}
    assert foreign.id not in visible(records)


# --- the conversation page ---------------------------------------------------------------


def test_thread_spans_every_channel_with_delivery_status(app, client, login, factory, desk):
    tenant = desk["tenant"]
    sms = factory.channel(tenant, ChannelKind.SMS, name="SMS 2000")
    conv = factory.conversation(desk["chat"], body="Hei fra nettpraten")
    sms_msg = factory.inbound(
        sms, body="Hei fra SMS", identity="+4790000001", kind=IdentityKind.PHONE
    )
    failed = Message(
        tenant_id=tenant.id,
        conversation_id=sms_msg.conversation_id,
        channel_account_id=sms.id,
        direction="out",
        body="Svar som feilet",
        delivery_status=DeliveryStatus.FAILED,
        error_message="Nummeret finnes ikke",
        error_code="21211",
    )
    db.session.add(failed)
    db.session.commit()
    login(desk["cw"])
    resp = client.post(f"/c/{conv.id}/contact/merge", data={"contact": "+4790000001"})
    assert resp.status_code == 303
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    page = page[page.index('id="conv-pane"') :]  # the thread, not the queue list beside it
    first, second, third = (
        page.index("Hei fra nettpraten"),
        page.index("Hei fra SMS"),
        page.index("Svar som feilet"),
    )
    assert first < second < third  # time order across channels
    assert "SMS 2000" in page and "Nettprat" in page
    assert "feilet" in page and "Nummeret finnes ikke" in page and "21211" in page
    assert "+4790000001" in page  # the identity on the contact card
    assert f'id="msg-{failed.id}"' in page


def test_note_is_kept_and_never_sent(app, client, login, factory, tasks, desk):
    conv = factory.conversation(desk["chat"])
    login(desk["cw"])
    client.post(f"/c/{conv.id}/reply", data={"body": "Ring henne i morgen", "kind": "note"})
    note = db.session.scalar(select(Message).where(Message.is_note.is_(True)))
    assert note.body == "Ring henne i morgen"
    assert "servicetorg.outbound.send_message" not in tasks.names()
    client.post(f"/c/{conv.id}/reply", data={"body": "Hei!", "kind": "reply"})
    assert tasks.names() == ["servicetorg.outbound.send_message"]


def test_assign_transfer_status_and_snooze(app, client, login, factory, desk):
    tenant, cw = desk["tenant"], desk["cw"]
    conv = factory.conversation(desk["chat"])
    login(cw)
    client.post(f"/c/{conv.id}/assign", data={"assignee": "me"})
    db.session.refresh(conv)
    assert conv.assignee_id == cw.id
    client.post(f"/c/{conv.id}/status", data={"status": "pending"})
    db.session.refresh(conv)
    assert conv.status is ConversationStatus.PENDING
    resp = client.post(f"/c/{conv.id}/snooze", data={"until": "2020-01-01T08:00"})
    assert "fram i tid" in client.get(resp.headers["Location"]).get_data(as_text=True)
    client.post(f"/c/{conv.id}/snooze", data={"until": "2099-01-01T08:00"})
    db.session.refresh(conv)
    assert conv.status is ConversationStatus.SNOOZED
    assert conv.snoozed_until.year == 2099
    # Transfer to a team the caseworker is not in: it leaves their sight.
    other = factory.team(tenant, "Skatt")
    resp = client.post(f"/c/{conv.id}/transfer", data={"team_id": str(other.id)})
    assert resp.headers["Location"].endswith("/")
    assert client.get(f"/c/{conv.id}").status_code == 404
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"assign", "status", "snooze", "transfer"} <= actions


def test_snoozed_conversations_reopen_when_due(app, factory, desk):
    from workers.housekeeping import reopen_snoozed

    due = factory.conversation(desk["chat"])
    later = factory.conversation(desk["chat"], identity="visitor-later")
    due.status = later.status = ConversationStatus.SNOOZED
    due.snoozed_until = utcnow() - timedelta(minutes=1)
    later.snoozed_until = utcnow() + timedelta(hours=1)
    due.has_unread = False
    db.session.commit()
    assert reopen_snoozed.apply().get() == 1
    db.session.expire_all()
    assert due.status is ConversationStatus.OPEN and due.has_unread and due.snoozed_until is None
    assert later.status is ConversationStatus.SNOOZED


def test_merge_two_conversations(app, client, login, factory, desk):
    first = factory.conversation(desk["chat"], identity="visitor-a", body="Første")
    first.status = ConversationStatus.CLOSED
    db.session.commit()
    second = factory.conversation(desk["chat"], identity="visitor-a", body="Andre")
    login(desk["cw"])
    resp = client.post(f"/c/{second.id}/merge", data={"into": str(first.id)})
    assert resp.headers["Location"].endswith(f"/c/{first.id}")
    db.session.expire_all()
    assert second.merged_into_id == first.id and second.status is ConversationStatus.CLOSED
    assert first.status is ConversationStatus.OPEN
    bodies = db.session.scalars(select(Message.body).where(Message.conversation_id == first.id))
    assert set(bodies) == {"Første", "Andre"}
    # The merged conversation's address leads to the one it was merged into.
    assert client.get(f"/c/{second.id}").headers["Location"].endswith(f"/c/{first.id}")


def test_merge_contacts_and_undo(app, client, login, factory, desk):
    tenant = desk["tenant"]
    sms = factory.channel(tenant, ChannelKind.SMS, name="SMS")
    chat_conv = factory.conversation(desk["chat"], identity="visitor-kari")
    sms_conv = factory.inbound(sms, identity="+4791111111", kind=IdentityKind.PHONE).conversation
    sms_contact = sms_conv.contact_id
    login(desk["cw"])
    client.post(f"/c/{chat_conv.id}/contact/merge", data={"contact": "+4791111111"})
    db.session.expire_all()
    assert sms_conv.contact_id == chat_conv.contact_id
    assert db.session.get(Contact, sms_contact).merged_into_id == chat_conv.contact_id
    # A new SMS from the citizen lands with the merged contact.
    again = factory.inbound(sms, identity="+4791111111", kind=IdentityKind.PHONE)
    assert again.conversation.contact_id == chat_conv.contact_id
    page = client.get(f"/c/{chat_conv.id}").get_data(as_text=True)
    assert "Angre sammenslåing" in page
    client.post(f"/c/{chat_conv.id}/contact/{sms_contact}/unmerge")
    db.session.expire_all()
    assert sms_conv.contact_id == sms_contact
    ident = db.session.scalar(select(ContactIdentity).where(ContactIdentity.value == "+4791111111"))
    assert ident.contact_id == sms_contact and ident.previous_contact_id is None
    assert db.session.get(Contact, sms_contact).merged_into_id is None
    actions = list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert "contact.merge" in actions and "contact.unmerge" in actions


def test_undoing_a_contact_merge_takes_back_the_name_it_lent(app, client, login, factory, desk):
    """The anonymous chat visitor showed the SMS contact's name while merged; after undo the
    visitor is anonymous again and the SMS contact still has its name. A name given to the
    surviving contact after the merge is its own and stays."""
    sms = factory.channel(desk["tenant"], ChannelKind.SMS, name="SMS")
    chat_conv = factory.conversation(desk["chat"], identity="visitor-anon")
    sms_msg = factory.inbound(
        sms, identity="+4792222222", kind=IdentityKind.PHONE, contact_name="Ola Nordmann"
    )
    sms_contact, chat_contact = sms_msg.conversation.contact_id, chat_conv.contact_id
    login(desk["cw"])

    def contact_name_on_card() -> str:
        page = client.get(f"/c/{chat_conv.id}").get_data(as_text=True)
        start = page.index('class="contact-name">') + len('class="contact-name">')
        return page[start : page.index("<span", start)].strip()

    client.post(f"/c/{chat_conv.id}/contact/merge", data={"contact": "+4792222222"})
    assert contact_name_on_card() == "Ola Nordmann"
    client.post(f"/c/{chat_conv.id}/contact/{sms_contact}/unmerge")
    db.session.expire_all()
    assert contact_name_on_card() == f"#{chat_contact}"
    assert db.session.get(Contact, sms_contact).name == "Ola Nordmann"

    client.post(f"/c/{chat_conv.id}/contact/merge", data={"contact": "+4792222222"})
    db.session.get(Contact, chat_contact).name = "Ola K. Nordmann"  # corrected since
    db.session.commit()
    client.post(f"/c/{chat_conv.id}/contact/{sms_contact}/unmerge")
    db.session.expire_all()
    assert contact_name_on_card() == "Ola K. Nordmann"


def test_unknown_contact_for_merge_is_a_clear_error(app, client, login, factory, desk):
    conv = factory.conversation(desk["chat"])
    foreign = factory.conversation(factory.channel(factory.tenant()))
    login(desk["cw"])
    for ref in ("+4799999999", f"#{foreign.contact_id}", "x" * 300):
        resp = client.post(
            f"/c/{conv.id}/contact/merge", data={"contact": ref}, follow_redirects=True
        )
        assert "Fant ingen kontakt" in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).where(Contact.merged_into_id.is_not(None))) == 0


# --- canned replies ----------------------------------------------------------------------


def test_canned_replies_crud_and_insert(app, client, login, factory, desk):
    tenant = desk["tenant"]
    admin = factory.user(tenant, Role.ADMIN, name="Ada Admin")
    conv = factory.conversation(desk["chat"], contact_name="Ola <b>Nordmann</b>")
    login(admin)
    resp = client.post(
        "/admin/canned/",
        data={
            "tenant_id": str(tenant.id),
            "title": "Hilsen",
            "body": "Hei {citizen_name}! Hilsen {caseworker_name}",
        },
    )
    assert resp.status_code == 303
    resp = client.post(
        "/admin/canned/", data={"tenant_id": str(tenant.id), "title": "Feil", "body": "{password}"}
    )
    assert resp.status_code == 400
    assert "plassholdere" in resp.get_data(as_text=True)
    canned = db.session.scalar(select(CannedReply))
    assert count(CannedReply) == 1
    page = client.get(f"/c/{conv.id}?canned={canned.id}").get_data(as_text=True)
    assert "Hei Ola &lt;b&gt;Nordmann&lt;/b&gt;! Hilsen Ada Admin</textarea>" in page
    client.post(f"/admin/canned/{canned.id}", data={"title": "Hilsen 2", "body": "Ny tekst"})
    db.session.refresh(canned)
    assert canned.title == "Hilsen 2"
    client.post(f"/admin/canned/{canned.id}/delete")
    assert count(CannedReply) == 0
    # Another tenant's canned reply id is unknown here.
    other = factory.tenant()
    foreign = CannedReply(tenant_id=other.id, title="X", body="Y")
    db.session.add(foreign)
    db.session.commit()
    assert client.get(f"/c/{conv.id}?canned={foreign.id}").status_code == 404


# --- bad input ---------------------------------------------------------------------------


def test_over_long_reply_is_refused_and_nothing_stored(app, client, login, factory, tasks, desk):
    conv = factory.conversation(desk["chat"])
    login(desk["cw"])
    before = count(Message)
    body = "x" * (app.config["MAX_MESSAGE_CHARS"] + 1)
    resp = client.post(f"/c/{conv.id}/reply", data={"body": body}, follow_redirects=True)
    assert "Svaret er for langt" in resp.get_data(as_text=True)
    assert count(Message) == before and tasks.sent == []


def test_html_in_every_field_is_shown_escaped(app, client, login, factory, desk):
    evil = '<script>alert("x")</script>'
    conv = factory.conversation(desk["chat"], body=evil, contact_name=evil)
    team = factory.team(desk["tenant"], evil)
    desk["cw"].name = evil
    db.session.add(TeamMember(team_id=team.id, user_id=desk["cw"].id))
    db.session.commit()
    login(desk["cw"])
    client.post(f"/c/{conv.id}/reply", data={"body": evil, "kind": "note"})
    client.post(f"/c/{conv.id}/reply", data={"body": evil, "kind": "reply"})
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert "<script>alert" not in page
    assert page.count("&lt;script&gt;") >= 4


def test_unknown_ids_and_bad_values(app, client, login, factory, desk):
    conv = factory.conversation(desk["chat"])
    login(desk["cw"])
    assert client.get("/c/999999").status_code == 404
    assert client.post("/c/999999/assign", data={"assignee": "me"}).status_code == 404
    assert client.post(f"/c/{conv.id}/merge", data={"into": "abc"}).status_code == 400
    resp = client.post(f"/c/{conv.id}/merge", data={"into": "999999"}, follow_redirects=True)
    assert "Fant ikke samtalen" in resp.get_data(as_text=True)
    resp = client.post(f"/c/{conv.id}/assign", data={"assignee": "999999"}, follow_redirects=True)
    assert "ikke medlem" in resp.get_data(as_text=True)
    resp = client.post(f"/c/{conv.id}/status", data={"status": "deleted"}, follow_redirects=True)
    assert "Ukjent status" in resp.get_data(as_text=True)
    resp = client.post(f"/c/{conv.id}/snooze", data={"until": "tomorrow"}, follow_redirects=True)
    assert "dato og klokkeslett" in resp.get_data(as_text=True)
    db.session.refresh(conv)
    assert conv.assignee_id is None and conv.status is ConversationStatus.OPEN


# --- languages ---------------------------------------------------------------------------


def test_language_is_kept_per_user_and_numbers_follow_it(app, client, login, factory, desk):
    conv = factory.conversation(desk["chat"])
    login(desk["cw"])
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert "Høyst 5\xa0000 tegn." in page  # bokmål by default
    resp = client.post("/language", data={"lang": "en", "next": f"/c/{conv.id}"})
    assert resp.headers["Location"].endswith(f"/c/{conv.id}")
    new_request()
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert "At most 5,000 characters." in page and 'lang="en"' in page
    db.session.refresh(desk["cw"])
    assert desk["cw"].locale == "en"
    # A new session of the same user starts in their language.
    fresh = app.test_client()
    new_request()
    fresh.post("/login", data={"email": desk["cw"].email, "password": PASSWORD})
    new_request()
    assert "At most 5,000 characters." in fresh.get(f"/c/{conv.id}").get_data(as_text=True)
    new_request()
    fresh.post("/language", data={"lang": "nn"})
    new_request()
    assert "Høgst 5\xa0000 teikn." in fresh.get(f"/c/{conv.id}").get_data(as_text=True)
    assert client.post("/language", data={"lang": "xx"}).status_code == 400


def test_reply_box_shows_the_channel_limits(app, client, login, factory, desk, monkeypatch):
    from channels import registry

    monkeypatch.setitem(
        registry.CONNECTORS, ChannelKind.SMS, "tests.fakes.limited:LimitedConnector"
    )
    monkeypatch.setattr(registry, "_instances", {})
    sms = factory.channel(desk["tenant"], ChannelKind.SMS, name="SMS 2000")
    conv = factory.inbound(sms, identity="+4791234567", kind=IdentityKind.PHONE).conversation
    login(desk["cw"])
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert "Svar sendes via SMS 2000." in page
    assert "Høyst 320 tegn." in page and 'maxlength="320"' in page
    assert "Lange meldinger deles i biter på 160 tegn." in page
    assert "Du kan svare fram til" in page
    conv.meta = {"window_closed": True}
    db.session.commit()
    new_request()
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert "Svar kan ikke sendes nå: The 24-hour window has closed." in page
    resp = client.post(f"/c/{conv.id}/reply", data={"body": "Hei"}, follow_redirects=True)
    assert "The 24-hour window has closed." in resp.get_data(as_text=True)
    conv.meta = {}
    db.session.commit()
    resp = client.post(f"/c/{conv.id}/reply", data={"body": "x" * 321}, follow_redirects=True)
    assert "Svaret er for langt (høyst 320 tegn)." in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).where(Message.direction == "out")) == 0


def test_staff_commands_create_users_teams_and_unlock(app, factory):
    tenant = factory.tenant(slug="cli-kommune")
    runner = app.test_cli_runner()
    env = {"SERVICETORG_NEW_PASSWORD": "et langt passord 123"}
    args = ["staff", "add-user", "per@cli.no", "Per", "--tenant", tenant.slug, "--role", "admin"]
    result = runner.invoke(args=args, env=env)
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["staff", "add-team", tenant.slug, "Skatt"]).exit_code == 0
    result = runner.invoke(args=["staff", "join-team", "per@cli.no", tenant.slug, "Skatt"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "per@cli.no"))
    assert user.role_in(tenant.id) is Role.ADMIN
    assert db.session.scalar(select(func.count()).select_from(TeamMember)) == 1
    user.locked_until = utcnow() + timedelta(minutes=10)
    db.session.commit()
    assert runner.invoke(args=["staff", "unlock", "per@cli.no"]).exit_code == 0
    db.session.expire_all()
    assert user.locked_until is None
    bad = runner.invoke(args=["staff", "add-user", "x@y.no", "X", "--tenant", "nope"], env=env)
    assert bad.exit_code != 0 and "no municipality" in bad.output


@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
def test_fast_date_format_matches_flask_babel(app, lang):
    from flask_babel import force_locale, format_datetime

    from inbox.formatting import short_datetime

    when = utcnow().replace(month=7, day=3, hour=21, minute=5)  # summer time in Oslo
    with app.test_request_context(), force_locale(lang):
        assert short_datetime(when) == format_datetime(when, "short")


def test_a_merged_provider_thread_continues_where_it_was_merged(app, factory, desk):
    from inbox.services.merging import merge_conversations

    comments = factory.channel(desk["tenant"], ChannelKind.WEB_COMMENTS, name="Nettsiden")
    thread_conv = factory.conversation(comments, identity="author-1", thread_key="page-7")
    chat_conv = factory.conversation(desk["chat"], identity="visitor-1")
    merge_conversations(thread_conv, chat_conv, desk["cw"])
    db.session.commit()
    later = factory.inbound(
        comments, identity="author-1", thread_key="page-7", body="Et svar til i tråden"
    )
    assert later.conversation_id == chat_conv.id
    assert later.channel_account_id == comments.id  # still marked with its own channel


def test_attachments_and_edits_in_the_thread(app, client, login, factory, desk):
    from inbox.models import MessageRevision
    from inbox.services.ingest import InboundAttachment

    msg = factory.inbound(
        desk["chat"],
        body="Se vedlegget",
        attachments=[
            InboundAttachment('kart"<b>.html', "text/html", data=b"<script>alert(1)</script>")
        ],
    )
    msg.edited_at = utcnow()
    db.session.add(MessageRevision(message_id=msg.id, body="Se vedlegg (første versjon)"))
    db.session.commit()
    login(desk["cw"])
    page = client.get(f"/c/{msg.conversation_id}").get_data(as_text=True)
    assert "kart&#34;&lt;b&gt;.html" in page and "Se vedlegg (første versjon)" in page
    assert "Redigert" in page  # the edit is marked, with the earlier text
    att_id = msg.attachments[0].id
    resp = client.get(f"/c/attachments/{att_id}")
    assert resp.status_code == 200 and resp.data == b"<script>alert(1)</script>"
    assert resp.mimetype == "application/octet-stream"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="kartb.html"')
    assert client.get("/c/attachments/999999").status_code == 404


def test_merging_a_contact_of_another_teams_conversation_needs_access_to_it(
    app, client, login, factory, desk
):
    """The SMS channel belongs to another team: Kari cannot see its conversation, so she may
    not pull its contact (and its conversation) onto her own contact card."""
    tenant = desk["tenant"]
    other_team = factory.team(tenant, "Skatt")
    sms = factory.channel(tenant, ChannelKind.SMS, name="SMS skatt", team_id=other_team.id)
    chat_conv = factory.conversation(desk["chat"], identity="visitor-ola")
    hidden = factory.inbound(sms, identity="+4793333333", kind=IdentityKind.PHONE).conversation
    assert hidden.team_id == other_team.id
    hidden_contact = hidden.contact_id
    login(desk["cw"])
    resp = client.post(f"/c/{chat_conv.id}/contact/merge", data={"contact": "+4793333333"})
    assert resp.status_code == 303
    db.session.expire_all()
    assert db.session.get(Contact, hidden_contact).merged_into_id is None
    assert hidden.contact_id == hidden_contact
    page = client.get(f"/c/{chat_conv.id}").get_data(as_text=True)
    assert "du ikke har tilgang til" in page
    assert "contact.merge" not in set(db.session.scalars(select(AuditEntry.action)))
