"""Pulling from providers: what push delivery missed still reaches the queue, once."""

from __future__ import annotations

import logging

from celery import shared_task
from sqlalchemy import select

from channels.registry import get_connector
from inbox.db import enqueue
from inbox.extensions import db
from inbox.models import ChannelAccount
from inbox.models.base import utcnow
from inbox.models.tenancy import active_tenant_ids

log = logging.getLogger(__name__)


@shared_task(name="servicetorg.inbound.poll_all")
def poll_all() -> int:
    ids = db.session.scalars(
        select(ChannelAccount.id).where(
            ChannelAccount.enabled.is_(True),
            ChannelAccount.tenant_id.in_(active_tenant_ids()),
        )
    ).all()
    for account_id in ids:
        enqueue("servicetorg.inbound.poll_account", account_id)
    db.session.commit()  # sends the queued tasks
    return len(ids)


@shared_task(name="servicetorg.inbound.poll_account")
def poll_account(account_id: int) -> int:
    account = db.session.get(ChannelAccount, account_id)
    if account is None or not account.enabled:
        return 0
    stored = get_connector(account.kind).poll(account)
    account.last_polled_at = utcnow()
    db.session.commit()
    return stored
