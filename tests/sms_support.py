"""Shared pieces of the SMS tests: signing like Twilio does, and a number wired to the fake."""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import ChannelAccount, ChannelKind, Conversation, Message, Role, Tenant, User
from inbox.services import conversations
from tests.conftest import run_inbound
from tests.factories import PASSWORD
from tests.fakes.twilio import FakeTwilio, new_sid

PUBLIC = "https://innboks.example.kommune.no"
CITIZEN = "+4791234567"


def sign(url: str, params: dict[str, str], token: str, hash_name: str = "sha1") -> str:
    """X-Twilio-Signature as Twilio computes it (written independently of the twilio package)."""
    data = url + "".join(k + params[k] for k in sorted(params))
    digest = hmac.new(token.encode(), data.encode(), hash_name).digest()
    return base64.b64encode(digest).decode()


@dataclass
class Sms:
    fake: FakeTwilio
    tenant: Tenant
    account: ChannelAccount
    token: str
    client: Any

    # Set by sms_conversation(): the citizen's conversation and a caseworker of the tenant.
    conv: Conversation | None = None
    caseworker: User | None = None

    def sign_in_caseworker(self) -> None:
        assert self.caseworker is not None
        resp = self.client.post(
            "/login", data={"email": self.caseworker.email, "password": PASSWORD}
        )
        assert resp.status_code == 302, resp.status_code

    def reply(self, body: str) -> Message:
        """The caseworker's reply, queued for sending (committed)."""
        assert self.conv is not None and self.caseworker is not None
        msg = conversations.reply(self.conv, self.caseworker, body)
        db.session.commit()
        return msg

    def path(self, kind: str = "sms", account: ChannelAccount | None = None) -> str:
        return f"/webhooks/twilio/{(account or self.account).id}/{kind}"

    def post(self, path: str, params: dict[str, str], *, base: str = PUBLIC, **kw: Any) -> Any:
        headers = kw.pop("headers", {})
        headers.setdefault("X-Twilio-Signature", sign(base + path, params, self.token))
        return self.client.post(path, data=params, headers=headers, **kw)

    def inbound(
        self,
        body: str,
        *,
        sid: str | None = None,
        from_: str = CITIZEN,
        account: ChannelAccount | None = None,
        process: bool = True,
        **extra: str,
    ) -> Any:
        """Twilio's inbound webhook; with `process`, the inbound worker's batch runs after it."""
        acc = account or self.account
        params = {
            "ToCountry": "NO",
            "ToState": "",
            "SmsMessageSid": sid or new_sid("SM"),
            "NumMedia": "0",
            "ToCity": "",
            "FromZip": "",
            "SmsSid": "",
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": body,
            "FromCountry": "NO",
            "To": acc.external_id,
            "ToZip": "",
            "NumSegments": "1",
            "MessageSid": "",
            "AccountSid": self.fake.account_sid,
            "From": from_,
            "ApiVersion": "2010-04-01",
        }
        params["MessageSid"] = params["SmsSid"] = params["SmsMessageSid"]
        params.update(extra)
        return self._processed(self.post(self.path("sms", acc), params), process)

    def _processed(self, resp: Any, process: bool) -> Any:
        if process:
            run_inbound(self.client.application)
        return resp

    def status(self, message: Message, status: str, *, process: bool = True, **extra: str) -> Any:
        params = {
            "MessageSid": message.provider_message_id or "",
            "MessageStatus": status,
            "SmsSid": message.provider_message_id or "",
            "SmsStatus": status,
            "AccountSid": self.fake.account_sid,
            "ApiVersion": "2010-04-01",
            **extra,
        }
        path = f"{self.path('status')}?m={message.id}"
        return self._processed(self.post(path, params), process)

    def messages(self) -> list[Message]:
        db.session.expire_all()
        return list(db.session.scalars(select(Message).order_by(Message.id)))

    def number(self, external_id: str, **kw: Any) -> ChannelAccount:
        acc = ChannelAccount(
            tenant_id=self.tenant.id,
            kind=ChannelKind.SMS,
            name=kw.pop("name", f"SMS {external_id}"),
            external_id=external_id,
            config={"account_sid": self.fake.account_sid, "api_base_url": self.fake.url},
            secret_refs={"auth_token": "SERVICETORG_TEST_TWILIO_TOKEN"},
            **kw,
        )
        db.session.add(acc)
        db.session.commit()
        return acc


@contextmanager
def sms_setup(app: Any, factory: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sms]:
    token = secrets.token_hex(16)
    monkeypatch.setenv("SERVICETORG_TEST_TWILIO_TOKEN", token)
    app.config["PUBLIC_BASE_URL"] = PUBLIC
    fake = FakeTwilio("AC" + secrets.token_hex(16), token)
    with fake:
        tenant = factory.tenant()
        sms = Sms(fake, tenant, None, token, app.test_client())  # type: ignore[arg-type]
        sms.account = sms.number("+4740000001")
        yield sms


@contextmanager
def sms_conversation(
    app: Any, factory: Any, monkeypatch: pytest.MonkeyPatch, first: str
) -> Iterator[Sms]:
    """A number wired to the fake, a citizen who wrote `first`, and a caseworker to answer."""
    with sms_setup(app, factory, monkeypatch) as sms:
        sms.inbound(first)
        sms.caseworker = factory.user(sms.tenant, Role.CASEWORKER)
        sms.conv = db.session.scalars(select(Conversation)).one()
        yield sms


def poll_via_beat(tasks: Any) -> list[Any]:
    """What the beat schedule does: poll_all queues poll_account per account; run them."""
    tasks.sent.clear()
    celery = tasks.app.extensions["celery"]
    celery.loader.import_default_modules()
    celery.tasks["servicetorg.inbound.poll_all"].apply().get()
    return tasks.run_all(only="servicetorg.inbound.poll_account")
