"""The chat widget's "Log in with ID-porten" (channels/webchat/idporten.py, docs/sso.md).

1. The widget asks POST /api/chat/<key>/idporten (with its visitor token) for a start address
   holding a signed, short-lived ticket, and opens it in a new window (ID-porten may not be
   framed).
2. /chat/<key>/idporten/start keeps state, nonce and PKCE verifier in that window's session
   and sends it to ID-porten with the widget's level of assurance (acr_values).
3. /chat/idporten/callback checks the answer (inbox/services/oidc.py), records the person,
   and hands the widget a new visitor token tied to the identified contact by postMessage to
   its opener on our own origin; the window then closes.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, jsonify, render_template, request, session, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer

from channels.webchat import idporten, services
from inbox.extensions import csrf, db
from inbox.services import audit, oidc, secret_store

bp = Blueprint("webchat_idporten", __name__)
csrf.exempt(bp)  # the API call authenticates with the visitor token; the rest are GETs
PENDING_KEY = "idporten_pending"
TICKET_SECONDS = 600


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="servicetorg.idporten")


def _account(widget_key: str):  # type: ignore[no-untyped-def]
    account = services.account_for_key(widget_key)
    if account is None:
        abort(404)
    return account


def reasons() -> dict[str, str]:
    again = _("Close this window and try again from the chat.")
    return {
        "acr": _("ID-porten did not confirm your identity at the level this service requires."),
        "pid": _("ID-porten did not give a valid national identity number."),
        "secret": _("Log in with ID-porten is not fully set up. Contact the municipality."),
        "state": _("The log-in was not started here, or it took too long.") + " " + again,
        "unreachable": _("ID-porten cannot be reached right now. Try again later."),
    }


def _refused(code: str, status: int = 400):  # type: ignore[no-untyped-def]
    text = reasons().get(code) or _(
        "ID-porten's answer could not be verified, so you are not identified."
    )
    page = render_template("webchat/idporten_done.html", ok=False, reason=text, code=code)
    return page, status, {"Cache-Control": "no-store"}


@bp.post("/api/chat/<widget_key>/idporten")
def begin(widget_key: str):  # type: ignore[no-untyped-def]
    account = _account(widget_key)
    if idporten.settings(account) is None:
        return jsonify(
            error="not_enabled", message=_("Log in with ID-porten is not offered here.")
        ), 404
    token = request.headers.get("X-Chat-Token", "")
    if not services.TOKEN_RE.match(token):
        return jsonify(error="token", message=_("Missing or invalid chat token.")), 401
    ticket = _serializer().dumps({"k": widget_key, "v": services.visitor_identity(token)})
    return jsonify(url=url_for(".start", widget_key=widget_key, ticket=ticket)), 201


@bp.get("/chat/<widget_key>/idporten/start")
def start(widget_key: str):  # type: ignore[no-untyped-def]
    account = _account(widget_key)
    cfg = idporten.settings(account)
    if cfg is None:
        abort(404)
    try:
        ticket = _serializer().loads(request.args.get("ticket", ""), max_age=TICKET_SECONDS)
    except BadSignature:
        return _refused("state")
    if not isinstance(ticket, dict) or ticket.get("k") != widget_key:
        return _refused("state")
    try:
        meta = oidc.discover(cfg.issuer)
        url, pending = oidc.begin(
            meta,
            cfg.client_id,
            url_for(".callback", _external=True),
            scope="openid profile",
            acr_values=cfg.acr,
            ui_locales=str(session.get("lang") or "nb"),
        )
    except oidc.OidcError as exc:
        return _refused(exc.code, 502 if exc.code == "unreachable" else 400)
    session[PENDING_KEY] = {
        "k": widget_key,
        "v": ticket.get("v"),
        "state": pending.state,
        "nonce": pending.nonce,
        "verifier": pending.code_verifier,
    }
    return current_app.make_response((url, 303, {"Location": url}))


@bp.get("/chat/idporten/callback")
def callback():  # type: ignore[no-untyped-def]
    pending: dict[str, Any] | None = session.pop(PENDING_KEY, None)
    if not isinstance(pending, dict):
        return _refused("state")
    account = services.account_for_key(str(pending.get("k", "")))
    cfg = idporten.settings(account) if account is not None else None
    if account is None or cfg is None:
        return _refused("state")
    try:
        secret = idporten.client_secret(cfg)
    except secret_store.SecretUnavailable:
        return _refused("secret", 503)
    try:
        claims = oidc.finish(
            oidc.discover(cfg.issuer),
            issuer=cfg.issuer,
            client_id=cfg.client_id,
            client_secret=secret,
            redirect_uri=url_for(".callback", _external=True),
            pending=oidc.Pending(pending["state"], pending["nonce"], pending["verifier"]),
            state=request.args.get("state"),
            code=request.args.get("code"),
            error=request.args.get("error"),
        )
        pid, acr, name = idporten.check_claims(cfg, claims)
    except oidc.OidcError as exc:
        return _refused(exc.code, 502 if exc.code == "unreachable" else 400)
    except idporten.IdportenRefused as exc:
        return _refused(str(exc), 403)
    anonymous = idporten.contact_of_visitor(account, str(pending.get("v") or ""))
    contact, _ident = idporten.record_identified(account, pid, acr, name)
    idporten.suggest_with_anonymous(contact, anonymous)
    token = services.identified_token_for_contact(account, contact)
    audit.record(
        "idporten.identified", contact, tenant_id=account.tenant_id, actor_label="idporten", acr=acr
    )
    db.session.commit()
    page = render_template(
        "webchat/idporten_done.html",
        ok=True,
        token=token,
        origin=request.host_url.rstrip("/"),
        level=acr,
        name=name,
    )
    return page, 200, {"Cache-Control": "no-store"}


# --- How staff and citizens see an identification ------------------------------------------


def level_name(acr: str) -> str:
    return {idporten.SUBSTANTIAL: _("substantial"), idporten.HIGH: _("high")}.get(acr, acr)


@bp.app_template_global()
def idporten_label(acr: str, name: str | None = None) -> str:
    """ "Identifisert med ID-porten (nivå betydelig)", with the verified name if given."""
    label = _("Identified with ID-porten (level %(level)s)", level=level_name(acr))
    return f"{label}: {name}" if name else label


@bp.app_template_global()
def idporten_verified(contact: Any) -> dict[str, Any] | None:
    """What a caseworker sees of a contact identified through ID-porten: the label and the
    identity number, masked unless their role may see identity numbers."""
    from flask_login import current_user

    from inbox.views.privacy import may_reveal

    row = idporten.verified(contact)
    if row is None:
        return None
    user = current_user if getattr(current_user, "is_authenticated", False) else None
    return {
        "label": idporten_label(row.acr, row.name),
        "name": row.name,
        "number": idporten.shown_number(row, user, contact.tenant_id),
        "masked": user is None or not may_reveal(user, contact.tenant_id),
    }
