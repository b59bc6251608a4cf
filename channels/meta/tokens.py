"""An expired or missing page access token: an alert for admins, and no calls until replaced.

Facebook and Instagram accounts both call the Graph API with the page's access token, so they
share this: the alert stands while the token in the environment is the one Meta rejected, and
clears by itself on the first call after an admin has put a new one in place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask_babel import gettext as _

from channels.interfaces import PermanentSendError, TransientSendError
from channels.meta.graph import GraphClient, GraphError, page_token, token_fingerprint
from channels.meta.locale import tenant_locale
from inbox.extensions import db
from inbox.models import ChannelAccount

log = logging.getLogger(__name__)


def token_blocked(account: ChannelAccount) -> bool:
    """True while an expired-token alert stands and the token has not been replaced."""
    if not account.alert:
        return False
    if (account.poll_cursor or {}).get("alert_token") == token_fingerprint(page_token(account)):
        return True
    # An admin put a new token in place: try again.
    account.alert = None
    account.poll_cursor = {
        k: v for k, v in (account.poll_cursor or {}).items() if k != "alert_token"
    }
    return False


def raise_alert(account: ChannelAccount, exc: GraphError) -> None:
    """Expired or missing token: tell admins, and stop calling until it is replaced."""
    # Stored text, often written by a worker: in the municipality's language.
    with tenant_locale(account):
        account.alert = _(
            "Facebook rejected the access token for the page %(name)s (%(reason)s). An "
            "administrator must create a new page access token and put it in the environment "
            "variable %(var)s. Nothing is fetched from or sent to this page until then.",
            name=account.name,
            reason=str(exc)[:200],
            var=(account.secret_refs or {}).get("page_access_token", "?"),
        )
    account.poll_cursor = {
        **(account.poll_cursor or {}),
        "alert_token": token_fingerprint(page_token(account)),
    }
    log.warning("meta token rejected for account %s: %s", account.id, exc)


def blocked_reason(account: ChannelAccount) -> str | None:
    """What the reply box says while the account's token alert stands."""
    if account.alert and token_blocked(account):
        return _(
            "The connection to the Facebook page has stopped (the access token has "
            "expired). An administrator must renew it before replies can be sent."
        )
    return None


def send_call(account: ChannelAccount, fn: Callable[[GraphClient], Any]) -> Any:
    """Run a Graph call for a send; turn failures into the outbound service's errors."""
    if token_blocked(account):
        raise PermanentSendError(account.alert or "token", code="190")
    try:
        return fn(GraphClient(account))
    except GraphError as exc:
        if exc.kind == "token":
            raise_alert(account, exc)
            db.session.commit()  # the alert must outlive the send's rollback
            raise PermanentSendError(account.alert or str(exc), code="190") from exc
        code = str(exc.code) if exc.code is not None else None
        if exc.kind == "transient":
            raise TransientSendError(str(exc), code=code) from exc
        raise PermanentSendError(str(exc), code=code) from exc


def poll_with(account: ChannelAccount, fn: Callable[[GraphClient], int]) -> int:
    """Run a poll pass unless the token is known bad; a rejected token raises the alert."""
    if token_blocked(account):
        return 0
    try:
        return fn(GraphClient(account))
    except GraphError as exc:
        if exc.kind == "token":
            raise_alert(account, exc)
        return 0
