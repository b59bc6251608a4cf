"""/api/v1 as another system uses it: tenant isolation, revocation, scopes, handover, replies
through the channel, the audit log, errors as problem+json, pagination and rate limits."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from archiving.adapters.embedded_models import RecordsCase
from archiving.models import ArchiveItem
from inbox.extensions import db
from inbox.models import (
    ApiToken,
    AuditEntry,
    ChannelKind,
    Conversation,
    ConversationStatus,
    Direction,
    IdentityKind,
    Message,
    Role,
)
from inbox.services import api_tokens
from tests.api_support import Api, make_token, token_row
from tests.sms_support import CITIZEN, sms_conversation

ALL = ("read", "write", "handover")


@pytest.fixture
def town(app, client, factory):  # type: ignore[no-untyped-def]
    """A municipality with a web-chat conversation and a token with every scope."""
    tenant = factory.tenant()
    chat = factory.channel(tenant)
    conv = factory.conversation(chat, body="Hei, når er søppeltømming?")
    return tenant, chat, conv, Api(client, make_token(factory, tenant, *ALL))


def problem(resp, status: int) -> dict:  # type: ignore[no-untyped-def]
    """The answer is RFC 9457 problem+json with this status."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["status"] == status
    assert body["type"].startswith("urn:servicetorg:problem:")
    assert body["title"] and body["detail"]
    return body


# -- tenant isolation -----------------------------------------------------------------------


def test_a_token_never_reads_or_writes_another_municipalitys_data(app, client, factory, town):
    _tenant, _chat, mine, api = town
    other = factory.tenant()
    theirs_chat = factory.channel(other)
    theirs = factory.conversation(theirs_chat, body="Hemmelig fra nabokommunen")
    their_staff = factory.user(other, Role.CASEWORKER)

    listed = api.get("/conversations").get_json()["conversations"]
    assert [c["id"] for c in listed] == [mine.id]
    assert api.get("/conversations?q=Hemmelig").get_json()["conversations"] == []
    t = f"/conversations/{theirs.id}"
    problem(api.get(t), 404)
    problem(api.post(f"{t}/messages", {"body": "Hei"}), 404)
    problem(api.post(f"{t}/messages", {"kind": "note", "body": "Hei"}), 404)
    problem(api.post(f"{t}/status", {"status": "closed"}), 404)
    problem(api.post(f"{t}/assign", {"assignee_id": None}), 404)
    problem(api.post(f"{t}/tags", {"tag": "x"}), 404)
    problem(api.delete(f"{t}/tags/x"), 404)
    problem(api.post(f"{t}/archive-flags", {"new_case_title": "S", "title": "T"}), 404)
    # Ids of the other municipality in a body are refused too.
    body = problem(
        api.post(f"/conversations/{mine.id}/assign", {"assignee_id": their_staff.id}), 422
    )
    assert body["errors"][0]["field"] == "assignee_id"
    handover = {
        "channel_id": theirs_chat.id,
        "contact": {"identity_kind": "chat_user", "identity_value": "u1"},
        "transcript": [{"from": "citizen", "body": "Hei"}],
    }
    assert problem(api.post("/conversations", handover), 422)["errors"][0]["field"] == "channel_id"
    directory = api.get("/directory").get_json()
    assert their_staff.id not in [s["id"] for s in directory["staff"]]
    assert theirs_chat.id not in [c["id"] for c in directory["channels"]]

    db.session.expire_all()
    theirs = db.session.get(Conversation, theirs.id)
    assert theirs.status is ConversationStatus.OPEN and not theirs.flagged_for_archive
    count = select(Message).where(Message.conversation_id == theirs.id)
    assert len(db.session.scalars(count).all()) == 1


# -- tokens: hashed, shown once, revoked at once ----------------------------------------------


def test_token_is_shown_once_stored_hashed_and_revoked_at_once(app, client, factory, login):
    tenant = factory.tenant()
    factory.conversation(factory.channel(tenant))
    admin = factory.user(tenant, Role.ADMIN)
    login(admin)
    page = client.post(
        f"/admin/api-tokens/{tenant.id}", data={"name": "Chatbot", "scopes": ["read"]}
    )
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    token = html.split('id="new-token-value" readonly value="')[1].split('"')[0]
    assert token.startswith("st_")
    # Never again: not on the list page, not in the database.
    assert token not in client.get(f"/admin/api-tokens/?tenant={tenant.id}").get_data(as_text=True)
    row = token_row(token)
    assert row.token_hash == api_tokens.hash_token(token)
    assert token not in repr([getattr(row, c.key) for c in ApiToken.__table__.columns])

    api = Api(app.test_client(), token)
    assert api.get("/conversations").status_code == 200
    resp = client.post(f"/admin/api-tokens/{tenant.id}/{row.id}/revoke")
    assert resp.status_code == 303
    body = problem(api.get("/conversations"), 401)
    assert "revoked" in body["detail"]
    assert api.get("/conversations").headers["WWW-Authenticate"].startswith("Bearer")
    entries = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.object_type == "ApiToken")
    ).all()
    assert entries == ["api_token.create", "api_token.revoke"]


def test_only_admins_of_the_municipality_manage_its_tokens(app, client, factory, login):
    tenant, other = factory.tenant(), factory.tenant()
    token = make_token(factory, tenant, "read")
    row = token_row(token)
    login(factory.user(tenant, Role.CASEWORKER))
    assert client.get("/admin/api-tokens/").status_code == 403
    assert client.post(f"/admin/api-tokens/{tenant.id}/{row.id}/revoke").status_code == 403
    client.post("/logout")
    login(factory.user(other, Role.ADMIN))
    assert client.post(f"/admin/api-tokens/{tenant.id}/{row.id}/revoke").status_code == 404
    assert client.post(f"/admin/api-tokens/{other.id}/{row.id}/revoke").status_code == 404
    db.session.expire_all()
    assert token_row(token).revoked_at is None


def test_admin_page_refuses_a_token_without_name_or_permission(app, client, factory, login):
    tenant = factory.tenant()
    login(factory.user(tenant, Role.ADMIN))
    resp = client.post(f"/admin/api-tokens/{tenant.id}", data={"name": "Bot"})
    assert resp.status_code == 400
    assert "Velg minst én tillatelse" in resp.get_data(as_text=True)
    resp = client.post(f"/admin/api-tokens/{tenant.id}", data={"name": " ", "scopes": ["read"]})
    assert resp.status_code == 400
    assert db.session.scalars(select(ApiToken)).all() == []


def test_malformed_and_unknown_tokens_are_refused(town):
    _tenant, _chat, _conv, api = town
    for header in ("", "Bearer", "Basic abc", "Bearer st_nope", f"Bearer {api.token}x"):
        resp = api.client.get("/api/v1/conversations", headers={"Authorization": header})
        problem(resp, 401)
    # Right lookup id, wrong secret.
    forged = api.token[:-4] + ("AAAA" if not api.token.endswith("AAAA") else "BBBB")
    resp = api.client.get("/api/v1/conversations", headers={"Authorization": f"Bearer {forged}"})
    problem(resp, 401)


def test_a_signed_in_session_is_no_way_into_the_api(app, client, factory, login, town):
    """Only the bearer token authenticates, so the API can be exempt from CSRF."""
    tenant, _chat, conv, _api = town
    login(factory.user(tenant, Role.ADMIN))
    problem(client.get("/api/v1/conversations"), 401)
    problem(client.post(f"/api/v1/conversations/{conv.id}/messages", json={"body": "x"}), 401)


def test_bearer_writes_need_no_csrf_token(app, client, town):
    app.config["WTF_CSRF_ENABLED"] = True
    _tenant, _chat, conv, api = town
    resp = api.post(f"/conversations/{conv.id}/messages", {"kind": "note", "body": "Notat"})
    assert resp.status_code == 201


# -- scopes -----------------------------------------------------------------------------------


def test_scopes_are_enforced(app, client, factory, town):
    tenant, chat, conv, _api = town
    reader = Api(client, make_token(factory, tenant, "read", name="Rapport"))
    writer = Api(client, make_token(factory, tenant, "write", name="Sak"))
    bot = Api(client, make_token(factory, tenant, "handover", name="Bot"))
    assert reader.get(f"/conversations/{conv.id}").status_code == 200
    body = problem(reader.post(f"/conversations/{conv.id}/messages", {"body": "Hei"}), 403)
    assert "'write'" in body["detail"]
    problem(reader.post(f"/conversations/{conv.id}/status", {"status": "closed"}), 403)
    problem(reader.delete(f"/conversations/{conv.id}/tags/x"), 403)
    handover = {
        "channel_id": chat.id,
        "contact": {"identity_kind": "chat_user", "identity_value": "u1"},
        "transcript": [{"from": "citizen", "body": "Hei"}],
    }
    problem(reader.post("/conversations", handover), 403)
    problem(writer.post("/conversations", handover), 403)
    problem(writer.get("/conversations"), 403)
    problem(bot.get(f"/conversations/{conv.id}"), 403)
    problem(bot.post(f"/conversations/{conv.id}/messages", {"body": "Hei"}), 403)
    assert bot.post("/conversations", handover).status_code == 201
    db.session.expire_all()
    assert db.session.get(Conversation, conv.id).status is ConversationStatus.OPEN
    assert not db.session.scalars(
        select(Message).where(Message.direction == Direction.OUTBOUND)
    ).all()


# -- handover ---------------------------------------------------------------------------------


def test_handover_puts_the_transcript_in_the_inbox_thread(app, client, factory, login):
    tenant = factory.tenant()
    chat = factory.channel(tenant)
    bot = Api(app.test_client(), make_token(factory, tenant, "handover", name="Kommunebot"))
    transcript = [
        {
            "from": "citizen",
            "body": "Jeg lurer på byggesøknaden min",
            "sent_at": "2026-12-01T09:00:00+01:00",
        },
        {"from": "bot", "body": "Hva er saksnummeret?", "sent_at": "2026-12-01T09:00:05+01:00"},
        {"from": "citizen", "body": "2026/1234", "sent_at": "2026-12-01T09:01:00+01:00"},
    ]
    handover = {
        "channel_id": chat.id,
        "contact": {
            "identity_kind": "chat_user",
            "identity_value": "user-77",
            "name": "Kari Nordmann",
        },
        "transcript": transcript,
        "summary": "Vil snakke med en saksbehandler om byggesak",
        "handover_id": "bot-session-1",
        "bot_name": "Kommunebot",
    }
    resp = bot.post("/conversations", handover)
    assert resp.status_code == 201
    conv_id = resp.get_json()["conversation"]["id"]
    assert resp.get_json()["conversation"]["contact"]["name"] == "Kari Nordmann"
    # A retry after a lost answer stores nothing twice.
    again = bot.post("/conversations", handover)
    assert again.status_code == 200 and again.get_json()["conversation"]["id"] == conv_id
    messages = db.session.scalars(
        select(Message).where(Message.conversation_id == conv_id).order_by(Message.sent_at)
    ).all()
    assert [m.body for m in messages if not m.is_note] == [t["body"] for t in transcript]
    assert [m.direction for m in messages if not m.is_note] == [
        Direction.INBOUND,
        Direction.OUTBOUND,
        Direction.INBOUND,
    ]

    login(factory.user(tenant, Role.CASEWORKER))
    queue = client.get("/").get_data(as_text=True)
    assert f"/c/{conv_id}" in queue
    page = client.get(f"/c/{conv_id}").get_data(as_text=True)
    page = page[page.index('id="conv-pane"') :]  # the conversation, not the queue beside it
    for line in ("Jeg lurer på byggesøknaden min", "Hva er saksnummeret?", "2026/1234"):
        assert line in page
    assert "Vil snakke med en saksbehandler om byggesak" in page
    assert "Kari Nordmann" in page
    assert page.index("Jeg lurer på") < page.index("Hva er saksnummeret?") < page.index("2026/1234")


def test_handover_joins_the_citizens_open_sms_conversation(app, factory, monkeypatch):
    with sms_conversation(app, factory, monkeypatch, "Hei, jeg har et spørsmål") as sms:
        bot = Api(app.test_client(), make_token(factory, sms.tenant, "handover"))
        resp = bot.post(
            "/conversations",
            {
                "channel_id": sms.account.id,
                "contact": {"identity_kind": "phone", "identity_value": "912 34 567"},
                "transcript": [{"from": "citizen", "body": "Om parkering"}],
            },
        )
        assert resp.status_code == 201
        assert resp.get_json()["conversation"]["id"] == sms.conv.id
        # The number as the bot wrote it is the citizen's +4791234567: the same contact.
        assert resp.get_json()["conversation"]["contact"]["id"] == sms.conv.contact_id


def test_handover_refuses_what_cannot_be_stored(town):
    _tenant, chat, _conv, api = town

    def handover(**changes):  # type: ignore[no-untyped-def]
        body = {
            "channel_id": chat.id,
            "contact": {"identity_kind": "chat_user", "identity_value": "u1"},
            "transcript": [{"from": "citizen", "body": "Hei"}],
            **changes,
        }
        return problem(api.post("/conversations", body), 422)["errors"][0]["field"]

    assert handover(contact={"identity_kind": "phone", "identity_value": "+4791234567"}) == (
        "contact.identity_kind"
    )
    assert handover(contact={"identity_kind": "chat_visitor", "identity_value": "short"}) == (
        "contact.identity_value"
    )
    assert handover(transcript=[{"from": "bot", "body": "Hei"}]) == "transcript"
    assert handover(transcript=[{"from": "citizen", "body": "Hei", "sent_at": "2026-12-01"}]) == (
        "transcript[0].sent_at"
    )
    assert handover(
        transcript=[{"from": "citizen", "body": "Hei", "sent_at": "2999-01-01T00:00:00Z"}]
    ) == ("transcript[0].sent_at")
    assert handover(transcript=[]) == "transcript"
    assert handover(handover_id="a b") == "handover_id"
    assert handover(extra=1) == "extra"


# -- replies, notes and the other writes ------------------------------------------------------


def test_a_reply_through_the_api_goes_out_by_sms_exactly_once(app, factory, monkeypatch, tasks):
    with sms_conversation(app, factory, monkeypatch, "Når åpner biblioteket?") as sms:
        api = Api(app.test_client(), make_token(factory, sms.tenant, "write", name="Saksystem"))
        resp = api.post(f"/conversations/{sms.conv.id}/messages", {"body": "Klokka 10 i morgen."})
        assert resp.status_code == 201
        sent_id = resp.get_json()["message"]["id"]
        assert resp.get_json()["message"]["delivery_status"] == "queued"
        tasks.run_all()
        tasks.run_all()
        [sent] = sms.fake.sent()  # over HTTP to the fake Twilio, once
        assert (sent["to"], sent["body"]) == (CITIZEN, "Klokka 10 i morgen.")
        db.session.expire_all()
        msg = db.session.get(Message, sent_id)
        assert msg.provider_message_id == sent["sid"]
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "reply")).one()
        assert entry.actor_label.startswith("api:Saksystem") and entry.actor_id is None


def test_every_write_is_in_the_audit_log_with_the_tokens_name(app, client, factory, town):
    tenant, _chat, conv, api = town
    team = factory.team(tenant)
    staff = factory.user(tenant, Role.CASEWORKER)
    base = f"/conversations/{conv.id}"
    assert api.post(f"{base}/messages", {"body": "Tirsdag."}).status_code == 201
    assert api.post(f"{base}/messages", {"kind": "note", "body": "Ringt"}).status_code == 201
    assert api.post(f"{base}/status", {"status": "pending"}).status_code == 200
    resp = api.post(f"{base}/assign", {"team_id": team.id, "assignee_id": staff.id})
    assert resp.get_json()["conversation"]["assignee_id"] == staff.id
    assert resp.get_json()["conversation"]["team_id"] == team.id
    assert api.post(f"{base}/tags", {"tag": " Byggesak "}).get_json()["conversation"]["tags"] == [
        "byggesak"
    ]
    assert api.delete(f"{base}/tags/byggesak").get_json()["conversation"]["tags"] == []
    flag = {"new_case_title": "Søppel", "title": "Spørsmål om tømming", "anonymous": True}
    assert api.post(f"{base}/archive-flags", flag).status_code == 201
    snooze = {"status": "snoozed", "snoozed_until": "2999-01-01T08:00:00+01:00"}
    assert api.post(f"{base}/status", snooze).status_code == 200
    entries = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.tenant_id == tenant.id, AuditEntry.action != "api_token.create"
        )
    ).all()
    assert [e.action for e in entries] == [
        "reply",
        "note",
        "status",
        "transfer",
        "assign",
        "tag.add",
        "tag.remove",
        "archive.flag",
        "status",
        "snooze",
    ]
    row = token_row(api.token)
    assert {e.actor_label for e in entries} == {f"api:Chatbot (#{row.id})"}


def test_flagging_follows_the_flag_forms_rules(town):
    _tenant, _chat, conv, api = town
    base = f"/conversations/{conv.id}/archive-flags"
    body = problem(api.post(base, {"new_case_title": "Søppel"}), 422)
    assert body["errors"] == [{"field": "title", "message": "The journal entry needs a title."}]
    body = problem(api.post(base, {"case_number": "1234", "title": "T"}), 422)
    assert "year/number" in body["detail"]
    # The case is looked up in the tenant's records system when flagging.
    body = problem(
        api.post(base, {"case_number": "2026/1234", "title": "T", "anonymous": True}), 422
    )
    assert body["errors"][0]["field"] == "case_number"
    assert "There is no case 2026/1234 in the records system" in body["detail"]
    assert db.session.scalars(select(ArchiveItem)).all() == []
    db.session.add(
        RecordsCase(tenant_id=conv.tenant_id, saksaar=2026, sakssekvensnummer=1234, title="Søppel")
    )
    db.session.commit()
    ok = api.post(base, {"case_number": "2026/1234", "title": "T", "anonymous": True})
    assert ok.status_code == 201 and ok.get_json()["archive_item"]["case_number"] == "2026/1234"
    body = problem(
        api.post(base, {"case_number": "2026/1234", "title": "T", "anonymous": True}), 409
    )
    assert "already flagged" in body["detail"]
    item = db.session.scalars(select(ArchiveItem)).one()
    assert item.flagged_by_id is None and item.conversation_id == conv.id


def test_a_reply_the_channel_cannot_send_is_refused(app, client, factory, town):
    _tenant, _chat, conv, api = town
    body = problem(api.post(f"/conversations/{conv.id}/messages", {"body": "  "}), 422)
    assert body["errors"] == [{"field": "body", "message": "Write a reply first."}]
    long = "x" * (app.config["MAX_MESSAGE_CHARS"] + 1)
    problem(api.post(f"/conversations/{conv.id}/messages", {"body": long}), 422)
    problem(api.post(f"/conversations/{conv.id}/status", {"status": "snoozed"}), 422)
    past = {"status": "snoozed", "snoozed_until": "2020-01-01T08:00:00Z"}
    assert problem(api.post(f"/conversations/{conv.id}/status", past), 422)["detail"].endswith(
        "The snooze time must be in the future."
    )


# -- reading ----------------------------------------------------------------------------------


def test_list_filters_and_pages_with_a_cursor(app, client, factory):
    tenant = factory.tenant()
    chat, sms = factory.channel(tenant), factory.channel(tenant, ChannelKind.SMS)
    team = factory.team(tenant)
    staff = factory.user(tenant, Role.CASEWORKER)
    convs = [factory.conversation(chat, body=f"Spørsmål {i}") for i in range(12)]
    by_sms = factory.conversation(
        sms,
        body="Parkeringstillatelse",
        kind=IdentityKind.PHONE,
        identity="+4790000001",
    )
    convs[0].team_id, convs[1].assignee_id = team.id, staff.id
    convs[2].status = ConversationStatus.CLOSED
    db.session.commit()
    api = Api(client, make_token(factory, tenant, "read"))

    seen, cursor = [], None
    while True:
        page = api.get(
            "/conversations?limit=5" + (f"&cursor={cursor}" if cursor else "")
        ).get_json()
        seen += [c["id"] for c in page["conversations"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 12  # 11 open web chats and the SMS, none twice
    ids = lambda q: [c["id"] for c in api.get("/conversations?" + q).get_json()["conversations"]]  # noqa: E731
    assert ids(f"team={team.id}") == [convs[0].id]
    assert ids(f"assignee={staff.id}") == [convs[1].id]
    assert convs[1].id not in ids("assignee=none")
    assert ids("status=closed") == [convs[2].id]
    assert ids("channel=sms") == [by_sms.id]
    assert ids("q=Parkeringstillatelse") == [by_sms.id]
    problem(api.get("/conversations?cursor=garbage"), 422)
    problem(api.get("/conversations?status=gone"), 422)
    problem(api.get("/conversations?limit=0"), 422)
    problem(api.get("/conversations?bogus=1"), 422)


def test_reading_a_thread_masks_identity_numbers_and_marks_nothing_read(town):
    _tenant, _chat, conv, api = town
    conv_id = conv.id
    factory_msg = Message(
        tenant_id=conv.tenant_id,
        conversation_id=conv.id,
        channel_account_id=conv.channel_account_id,
        direction=Direction.INBOUND,
        body="Fødselsnummeret mitt er 01019000083",
        delivery_status="received",
    )
    db.session.add(factory_msg)
    db.session.commit()
    data = api.get(f"/conversations/{conv_id}").get_json()
    assert [m["author"]["type"] for m in data["messages"]] == ["citizen", "citizen"]
    assert "01019000083" not in str(data)
    db.session.expire_all()
    assert db.session.get(Conversation, conv_id).has_unread is True


# -- errors and limits ------------------------------------------------------------------------


def test_errors_are_problem_json(app, town):
    _tenant, _chat, conv, api = town
    base = f"/api/v1/conversations/{conv.id}/messages"
    problem(api.get("/no-such-thing"), 404)
    problem(api.client.put(base, headers=api.headers()), 405)
    problem(
        api.client.post(
            base,
            data="body=x",
            headers=api.headers(**{"Content-Type": "application/x-www-form-urlencoded"}),
        ),
        415,
    )
    problem(
        api.client.post(
            base, data="{nope", headers=api.headers(**{"Content-Type": "application/json"})
        ),
        400,
    )
    problem(
        api.client.post(
            base,
            data="[" * 5000 + "]" * 5000,
            headers=api.headers(**{"Content-Type": "application/json"}),
        ),
        400,
    )
    problem(api.post(f"/conversations/{conv.id}/messages", ["body"]), 422)
    problem(api.get("/conversations/99999999999999999999"), 404)
    app.config["MAX_CONTENT_LENGTH"] = 1024
    body = {"body": "x" * 2000}
    problem(api.post(f"/conversations/{conv.id}/messages", body), 413)


def test_rate_limit_is_per_token_with_retry_after(app, client, factory, town):
    tenant, _chat, _conv, api = town
    other = Api(client, make_token(factory, tenant, "read", name="Rapport"))
    app.config["API_LIMIT_PER_TOKEN"] = "3/minute"
    for _ in range(3):
        assert api.get("/conversations").status_code == 200
    resp = api.get("/conversations")
    problem(resp, 429)
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert other.get("/conversations").status_code == 200


def test_the_token_secret_has_256_bits_and_a_lookup_id(app, factory):
    tenant = factory.tenant()
    tokens = {make_token(factory, tenant, "read", name=f"t{i}") for i in range(3)}
    assert len(tokens) == 3
    for token in tokens:
        assert api_tokens.TOKEN_RE.match(token)
        assert len(token.split("_", 2)[2]) == 43  # 32 random bytes, base64url
