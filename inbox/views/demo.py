"""A demo municipality web page with the chat widget embedded, for trying the inbox."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import ChannelAccount, ChannelKind, Tenant

bp = Blueprint("demo", __name__)


@bp.get("/demo/<slug>")
def page(slug: str):  # type: ignore[no-untyped-def]
    if not current_app.config["DEMO_PAGE"]:
        abort(404)  # off in production unless DEMO_PAGE is set
    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        abort(404)
    account = db.session.scalar(
        select(ChannelAccount).where(
            ChannelAccount.tenant_id == tenant.id, ChannelAccount.kind == ChannelKind.WEBCHAT
        )
    )
    if account is None:
        abort(404)
    return render_template("demo.html", tenant=tenant, widget_key=account.external_id)
