"""Shared pieces of the alert tests: an alert on a number wired to the fake Twilio."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from channels.sms_alerts import services as alerts
from inbox.extensions import db
from inbox.models import Alert, AlertRecipient, Role, User


def numbers(count: int, start: int = 40000000) -> list[str]:
    """`count` Norwegian mobile numbers as a person writes them (8 digits)."""
    return [str(start + i) for i in range(count)]


def csv_of(phones: list[str]) -> bytes:
    return (
        "telefon;navn\n" + "".join(f"{p};Innbygger {i}\n" for i, p in enumerate(phones))
    ).encode()


def author(sms: Any) -> User:
    user = _user(sms.tenant, Role.CASEWORKER)
    alerts.grant(sms.tenant.id, user, True)
    db.session.commit()
    return user


def _user(tenant: Any, role: Role) -> User:
    from tests.factories import Factory

    return Factory().user(tenant, role)


def draft(
    sms: Any, phones: list[str], body: str = "Vannet er stengt i Kvernhusvegen.", **kw: Any
) -> Alert:
    user = kw.pop("user", None) or author(sms)
    source = alerts.from_csv(csv_of(phones), "mottakere.csv")
    alert = alerts.create(
        sms.tenant.id,
        user,
        title=kw.pop("title", "Vannbrudd"),
        body=body,
        account_id=sms.account.id,
        sender=kw.pop("sender", "number"),
        team_id=kw.pop("team_id", None),
        source=source,
    )
    db.session.commit()
    return alert


def recipients(alert: Alert) -> list[AlertRecipient]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AlertRecipient)
            .where(AlertRecipient.alert_id == alert.id)
            .order_by(AlertRecipient.id)
        )
    )
