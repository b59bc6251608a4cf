"""GET /logo/<slug>.png: a municipality's logo, public (its chat widget shows it)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, request
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import Tenant
from inbox.services import logo as logos

bp = Blueprint("logo", __name__)


@bp.get("/logo/<slug>.png")
def image(slug: str) -> Response:
    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None or not tenant.is_active:
        abort(404)
    found = logos.of(tenant.id)
    if found is None:
        abort(404)
    resp = Response(found.png, mimetype="image/png")
    resp.set_etag(found.sha256)
    resp.cache_control.public = True
    resp.cache_control.max_age = 300
    return resp.make_conditional(request)
