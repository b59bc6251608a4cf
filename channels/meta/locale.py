"""Texts stored or raised outside a request (by a worker) speak the municipality's language."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app
from flask_babel import force_locale

from inbox.extensions import db
from inbox.models import ChannelAccount, Tenant


@contextmanager
def tenant_locale(account: ChannelAccount) -> Iterator[None]:
    tenant = db.session.get(Tenant, account.tenant_id)
    with force_locale(tenant.locale if tenant else current_app.config["DEFAULT_LOCALE"]):
        yield
