"""Every route, table-driven: who may use it, and what everybody else gets.

Adding a route? Add ONE line to ROUTES: the endpoint and who may use it:
  PUBLIC     no sign-in (webhooks, the chat widget, the login page; they protect themselves)
  USER       any signed-in user (pages that only show the user's own tenants' data)
  STAFF      any role in the object's tenant (caseworkers see only their teams' conversations)
  RECORDS    records officers (and admins)
  ADMIN      admins only
  REGION     regional administrators only (installation-wide; their URLs name a spare tenant)
  ALERTS     caseworkers with alert rights (a membership flag) and admins (SMS alerts)
If the URL has a parameter this file does not know yet, add it to `World.params`.
The test fails when an endpoint is missing from the table, or listed but gone.

For each non-public endpoint and each of its methods it checks:
  anonymous -> redirect to the login page (or 401);
  signed in with a lower role in the same tenant -> 403;
  a caseworker outside the conversation's team -> 404 (when the URL names a conversation);
  an admin of ANOTHER tenant -> 404 (when the URL names a tenant's object);
  the right role -> neither 401, 403, 404 nor 5xx.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from archiving import triage
from channels.sms_alerts import services as alerts
from inbox.extensions import db
from inbox.models import (
    Attachment,
    ChannelKind,
    IdentityKind,
    Membership,
    Message,
    Role,
    Team,
    TeamMember,
    User,
)
from inbox.models.matching import ContactMatchSuggestion, MatchReason
from inbox.services import api_tokens, canned, merging, routing
from inbox.services.ingest import InboundAttachment
from tests.factories import PASSWORD

PUBLIC, USER, STAFF, RECORDS, ADMIN = "public", "user", "staff", "records", "admin"
REGION = "region"
ALERTS = "alerts"

ROUTES: dict[str, str] = {
    "static": PUBLIC,
    "healthz": PUBLIC,
    "logo.image": PUBLIC,  # a municipality's logo, shown in its chat widget
    "auth.login": PUBLIC,
    "auth.logout": USER,
    "account.language": PUBLIC,
    "demo.page": PUBLIC,
    "webchat.widget_script": PUBLIC,
    "webchat.chat_frame": PUBLIC,
    "webchat.new_visitor": PUBLIC,
    "webchat.post_message": PUBLIC,
    "webchat.list_messages": PUBLIC,
    "webchat.status": PUBLIC,
    "webchat.stream": PUBLIC,
    "webchat.reply_preference": PUBLIC,
    "webchat.transcript": PUBLIC,
    "webchat.end": PUBLIC,
    "webchat_staff.typing": STAFF,
    "queue.index": USER,
    "queue.search": USER,
    "queue.live.events": USER,
    "queue.live.shortcuts": USER,
    "queue.live.typing": STAFF,
    "queue.live.who_is_typing": STAFF,
    "conversation.show": STAFF,
    "conversation.reply": STAFF,
    "conversation.attachment": STAFF,
    "conversation_actions.assign": STAFF,
    "conversation_actions.transfer": STAFF,
    "conversation_actions.status": STAFF,
    "conversation_actions.snooze": STAFF,
    "conversation_actions.merge": STAFF,
    "conversation_actions.merge_contact": STAFF,
    "conversation_actions.unmerge_contact": STAFF,
    "records.review": RECORDS,
    "records.approve": RECORDS,
    "canned.index": ADMIN,
    "canned.create": ADMIN,
    "canned.edit": ADMIN,
    "canned.delete": ADMIN,
    "staff.index": ADMIN,
    "staff.add_person": ADMIN,
    "staff.person": ADMIN,
    "staff.change_role": ADMIN,
    "staff.remove_person": ADMIN,
    "staff.unlock": ADMIN,
    "staff.disable": ADMIN,
    "staff.enable": ADMIN,
    "staff.reset_password": ADMIN,
    "staff.create_team": ADMIN,
    "staff.team": ADMIN,
    "staff.rename_team": ADMIN,
    "staff.delete_team": ADMIN,
    "staff.add_member": ADMIN,
    "staff.remove_member": ADMIN,
    "account.password": USER,
    "account.sessions_page": USER,
    "account.end_session": USER,
    "account.end_all_sessions": USER,
    "account.availability": USER,
    "records.approve_many": RECORDS,
    "records.document": RECORDS,
    "records.edit": RECORDS,
    "records.item": RECORDS,
    "records.journalled": RECORDS,
    "records.retry": RECORDS,
    "records.return_item": RECORDS,
    "periods.index": RECORDS,
    "periods.close": RECORDS,
    "triage.flag": STAFF,
    "triage.choose": STAFF,
    "triage.reflag": STAFF,
    "triage.withdraw": STAFF,
    "matching.decide": STAFF,
    "privacy.reveal": RECORDS,  # and caseworkers where the municipality allows it
    "privacy.export": RECORDS,
    "privacy.erase": RECORDS,
    "privacy_admin.index": ADMIN,
    "privacy_admin.save": ADMIN,
    "api_tokens_admin.index": ADMIN,
    "api_tokens_admin.create": ADMIN,
    "api_tokens_admin.revoke": ADMIN,
    # Staff single sign-on: the redirect and the way back are the sign-in (tests/test_sso.py).
    "sso.start": PUBLIC,
    "sso.callback": PUBLIC,
    "sso.admin": ADMIN,
    "sso.save": ADMIN,
    "sso.save_idporten": ADMIN,
    # Citizens identified through ID-porten in the chat (tests/test_idporten.py).
    "webchat_idporten.begin": PUBLIC,
    "webchat_idporten.start": PUBLIC,
    "webchat_idporten.callback": PUBLIC,
    "insight.index": RECORDS,
    "insight.download": RECORDS,
    "insight.report": RECORDS,
    "insight.refresh": RECORDS,
    "insight.save_costs": ADMIN,
    # The API authenticates with bearer tokens, never the session: tests/test_api.py checks
    # every operation refuses no token, a revoked token, a missing scope and other tenants.
    "api_v1.openapi": PUBLIC,
    "api_v1.list_conversations": PUBLIC,
    "api_v1.get_conversation": PUBLIC,
    "api_v1.directory": PUBLIC,
    "api_v1.post_message": PUBLIC,
    "api_v1.set_status": PUBLIC,
    "api_v1.assign": PUBLIC,
    "api_v1.add_tag": PUBLIC,
    "api_v1.remove_tag": PUBLIC,
    "api_v1.flag_for_archive": PUBLIC,
    "api_v1.create_conversation": PUBLIC,
    # Provider webhooks authenticate by signature (tested per channel).
    "facebook.receive": PUBLIC,
    "facebook.verify": PUBLIC,
    "instagram.receive": PUBLIC,
    "instagram.verify": PUBLIC,
    "twilio_sms.inbound": PUBLIC,
    "twilio_sms.status": PUBLIC,
    "webcomments.receive": PUBLIC,
    # Regional administration (inbox/views/region.py).
    "region.index": REGION,
    "region.create": REGION,
    "region.appoint": REGION,
    "region.deactivate": REGION,
    "region.reactivate": REGION,
    # A municipality's setup pages and audit log (inbox/views/setup.py, auditlog.py).
    "setup.index": ADMIN,
    "setup.profile": ADMIN,
    "setup.save_profile": ADMIN,
    "setup.save_logo": ADMIN,
    "setup.channels": ADMIN,
    "setup.new_channel": ADMIN,
    "setup.create_channel": ADMIN,
    "setup.channel": ADMIN,
    "setup.update_channel": ADMIN,
    "setup.test_channel": ADMIN,
    "setup.set_channel_enabled": ADMIN,
    "setup.new_webhook_secret": ADMIN,
    "setup.widget": ADMIN,
    "setup.save_widget": ADMIN,
    "setup.records": ADMIN,
    "setup.save_records": ADMIN,
    "setup.test_records": ADMIN,
    "auditlog.index": ADMIN,
    "auditlog.export": ADMIN,
    "routing.index": ADMIN,
    "routing.add_rule": ADMIN,
    "routing.delete_rule": ADMIN,
    "routing.assignment": ADMIN,
    "routing.set_available": ADMIN,
    # SMS alerts (channels/sms_alerts): a caseworker needs the alert right; admins grant it.
    "alerts.index": ALERTS,
    "alerts.new": ALERTS,
    "alerts.create": ALERTS,
    "alerts.show": ALERTS,
    "alerts.progress": ALERTS,
    "alerts.confirm": ALERTS,
    "alerts.cancel": ALERTS,
    "alerts.flag_archive": ALERTS,
    "alerts.rights": ADMIN,
    # The workspace's action bar and its undo.
    "conversation_actions.apply_bar": STAFF,
    "conversation_actions.undo": STAFF,
    "triage.case": STAFF,
}

# Who is allowed, and who has a lower role in the same tenant (None: nobody is lower).
ALLOWED = {
    USER: "caseworker",
    STAFF: "caseworker",
    RECORDS: "records",
    ADMIN: "admin",
    REGION: "regional",
    ALERTS: "alerter",
}
LOWER = {
    USER: None,
    STAFF: None,
    RECORDS: "caseworker",
    ADMIN: "records",
    REGION: "admin",
    ALERTS: "caseworker",
}
OBJECT_PARAMS = {
    "conversation_id",
    "contact_id",
    "canned_id",
    "item_id",
    "attachment_id",
    "suggestion_id",
    "tenant_id",
    "user_id",
    "team_id",
    "token_id",
    "account_id",
    "widget_account_id",
    "rule_id",
    "alert_id",
}


class World:
    """Tenant A with a team and staff of every role; tenant B with its own admin."""

    def __init__(self, app: Flask, factory: Any) -> None:
        self.app, self.factory = app, factory
        self.tenant = factory.tenant()
        self.team = factory.team(self.tenant, "Byggesak")
        self.account = factory.channel(self.tenant, ChannelKind.WEBCHAT, team_id=self.team.id)
        other = factory.tenant()
        self.spare = factory.tenant()  # what the regional routes act on
        regional = factory.user(other, Role.CASEWORKER)
        regional.is_regional_admin = True
        self.users = {
            "caseworker": factory.user(self.tenant, Role.CASEWORKER),
            "outsider": factory.user(self.tenant, Role.CASEWORKER),
            "records": factory.user(self.tenant, Role.RECORDS_OFFICER),
            "admin": factory.user(self.tenant, Role.ADMIN),
            "other_admin": factory.user(other, Role.ADMIN),
            "regional": regional,
            "alerter": factory.user(self.tenant, Role.CASEWORKER),
        }
        alerts.grant(self.tenant.id, self.users["alerter"], True)
        self.sms = factory.channel(self.tenant, ChannelKind.SMS, external_id="+4740000099")
        db.session.add(TeamMember(team_id=self.team.id, user_id=self.users["caseworker"].id))
        db.session.commit()
        self.clients: dict[str | None, Any] = {None: app.test_client()}
        for name, user in self.users.items():
            client = app.test_client()
            forget_user()
            resp = client.post("/login", data={"email": user.email, "password": PASSWORD})
            assert resp.status_code == 302
            self.clients[name] = client

    def params(self) -> dict[str, Any]:
        """Fresh objects of tenant A for every URL parameter (cheap: the one account made here
        gets no real password hash, nobody signs in with it)."""
        conv = self.factory.conversation(
            self.account,
            body="Hei",
            attachments=[InboundAttachment("brev.pdf", "application/pdf", data=b"%PDF-1.4")],
        )
        merged = self.factory.inbound(
            self.account, identity="+4791234567", kind=IdentityKind.PHONE
        ).conversation.contact
        merging.merge_contacts(merged, conv.contact, self.users["admin"])
        reply = canned.create(self.tenant.id, self.users["admin"], f"Svar {conv.id}", "Hei!")
        item = triage.flag_conversation(
            conv, self.users["caseworker"], case_number="", new_case_title="Sak", title="Spørsmål"
        )
        suggestion = ContactMatchSuggestion(
            tenant_id=self.tenant.id,
            contact_a_id=conv.contact.id,
            contact_b_id=self.factory.conversation(self.account).contact_id,
            reason=MatchReason.LIKELY,
            matched_on="name",
        )
        db.session.add(suggestion)
        colleague = User(
            email=f"kollega-{conv.id}@{self.tenant.slug}.no", name="K", password_hash="-"
        )
        team = Team(tenant_id=self.tenant.id, name=f"Team {conv.id}")
        db.session.add_all([colleague, team])
        db.session.flush()
        db.session.add_all(
            [
                Membership(user_id=colleague.id, tenant_id=self.tenant.id, role=Role.CASEWORKER),
                TeamMember(team_id=team.id, user_id=colleague.id),
            ]
        )
        alert = alerts.create(
            self.tenant.id,
            self.users["alerter"],
            title=f"Varsel {conv.id}",
            body="Vannet er stengt.",
            account_id=self.sms.id,
            sender="number",
            team_id=None,
            source=alerts.Source("test", [{"phone": "+4791234567"}]),
        )
        db.session.commit()
        return {
            "tenant_id": self.tenant.id,
            "user_id": colleague.id,
            "team_id": team.id,
            "suggestion_id": suggestion.id,
            "action": "reject",
            "part": 0,
            "index": 0,
            "conversation_id": conv.id,
            "message_id": db.session.scalar(
                select(Message.id).where(Message.conversation_id == conv.id).limit(1)
            ),
            "fmt": "json",
            "contact_id": merged.id,
            "canned_id": reply.id,
            "item_id": item.id,
            "attachment_id": db.session.scalar(
                select(Attachment.id).where(Attachment.tenant_id == self.tenant.id).limit(1)
            ),
            "widget_key": self.account.external_id,
            "slug": self.tenant.slug,
            "filename": "css/inbox.css",
            "session_id": 0,
            "token_id": api_tokens.create(
                self.tenant.id, f"Bot {conv.id}", ["read"], self.users["admin"]
            )[0].id,
            "tag": "byggesak",
            "widget_account_id": self.account.id,
            "kind": "sms",
            "rule_id": routing.add_rule(
                self.tenant.id,
                self.users["admin"],
                {"keyword": "byggesak", "team_id": str(team.id)},
            ).id,
            "account_id": self.factory.channel(
                self.tenant, ChannelKind.WEB_COMMENTS, config={"source": "webhook"}
            ).id,
            "chart": "summary",
            "alert_id": alert.id,
        }


def forget_user() -> None:
    """The test's app context is shared by its requests, and Flask-Login caches the user in
    `g`: forget it, so each client's request loads its own user from its session."""
    from flask import g

    g.pop("_login_user", None)


def _requests(app: Flask) -> list[tuple[str, str, set[str]]]:
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, set(rule.arguments)))
    return out


def _call(world: World, who: str | None, endpoint: str, method: str, args: set[str], params=None):  # type: ignore[no-untyped-def]
    from flask import url_for

    params = params or world.params()
    if endpoint.startswith("region."):
        params = {**params, "tenant_id": world.spare.id}
    with world.app.test_request_context():
        url = url_for(endpoint, **{k: params[k] for k in args})
    client = world.clients[who]
    forget_user()
    return client.open(url, method=method, data={}, headers={"Accept": "text/html"})


def test_every_route_is_in_the_table(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - ROUTES.keys())
    stale = sorted(ROUTES.keys() - endpoints)
    assert not missing, f"add these endpoints to ROUTES in {__file__}: {missing}"
    assert not stale, f"these ROUTES entries have no route any more: {stale}"


@pytest.fixture
def world(app: Flask, factory: Any) -> World:
    return World(app, factory)


def test_every_route_refuses_the_wrong_people(app: Flask, world: World) -> None:
    failures = []
    params = world.params()  # refused requests change nothing, so one set of objects will do
    for endpoint, method, args in _requests(app):
        access = ROUTES.get(endpoint, PUBLIC)
        if access == PUBLIC:
            continue
        where = f"{method} {endpoint}"
        resp = _call(world, None, endpoint, method, args, params)
        if not (resp.status_code == 401 or "/login" in resp.headers.get("Location", "")):
            failures.append(f"{where}: anonymous got {resp.status_code}")
        lower = LOWER[access]
        if lower:
            resp = _call(world, lower, endpoint, method, args, params)
            if resp.status_code != 403:
                failures.append(f"{where}: {lower} got {resp.status_code}, not 403")
        if "conversation_id" in args:
            resp = _call(world, "outsider", endpoint, method, args, params)
            if resp.status_code != 404:
                failures.append(f"{where}: caseworker outside the team got {resp.status_code}")
        if args & OBJECT_PARAMS and access != REGION:
            resp = _call(world, "other_admin", endpoint, method, args, params)
            if resp.status_code != 404:
                failures.append(f"{where}: other tenant's admin got {resp.status_code}, not 404")
    assert not failures, "\n".join(failures)


def test_every_route_lets_the_right_role_in(app: Flask, world: World) -> None:
    failures = []
    shared = world.params()  # reads share one set of objects; each write gets fresh ones
    for endpoint, method, args in _requests(app):
        access = ROUTES.get(endpoint, PUBLIC)
        if access == PUBLIC:
            continue
        who = ALLOWED[access]
        params = shared if method == "GET" else None
        resp = _call(world, who, endpoint, method, args, params)
        if resp.status_code in (401, 403, 404) or resp.status_code >= 500:
            failures.append(f"{method} {endpoint}: {who} got {resp.status_code}")
        if endpoint == "auth.logout":  # sign in again for the next routes
            forget_user()
            world.clients[who].post(
                "/login", data={"email": world.users[who].email, "password": PASSWORD}
            )
    assert not failures, "\n".join(failures)
