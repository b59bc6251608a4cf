"""Staff single sign-on (docs/sso.md): the redirect to the municipality's identity provider,
the way back, and the admin page that configures it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from channels.webchat import idporten
from inbox.extensions import db
from inbox.models import ChannelAccount, ChannelKind, Role, Tenant
from inbox.services import oidc, secret_store, sso
from inbox.services.access import admin_tenants, chosen_tenant_id, require_role
from inbox.views.auth import _safe_next, start_session

bp = Blueprint("sso", __name__)
PENDING_KEY = "sso_pending"


def reasons() -> dict[str, str]:
    """What the person is told when a sign-in is refused, by OidcError / SsoRefused code."""
    again = _("Start the sign-in again from the sign-in page.")
    return {
        "state": _("The sign-in was not started here, or it took too long.") + " " + again,
        "provider_error": _("The identity provider did not sign you in.") + " " + again,
        "token_request": _("The identity provider did not confirm the sign-in.") + " " + again,
        "unreachable": _("The identity provider cannot be reached right now. Try again later."),
        "insecure_url": _("The identity provider's address is not allowed (it must use https)."),
        "private_url": _("The identity provider's address is not allowed (a private network)."),
        "signature": _("The identity provider's answer has no valid signature."),
        "issuer": _("The answer comes from another identity provider than the one configured."),
        "audience": _("The answer was meant for another application."),
        "expired": _("The answer from the identity provider has expired.") + " " + again,
        "nonce": _(
            "The answer from the identity provider was already used or belongs to another sign-in."
        )
        + " "
        + again,
        "claims": _("The answer from the identity provider is incomplete."),
        "secret": _("Single sign-on is not fully configured. Contact your administrator."),
        "no_email": _("Your account at the identity provider has no verified e-mail address."),
        "domain": _("Your e-mail address is not in a domain this municipality allows."),
        "no_group": _(
            "You are not in any group that gives access to this municipality's inbox. "
            "Ask your administrator to add you to the right group."
        ),
        "account_exists": _(
            "An account with your e-mail address exists already. Ask an administrator to "
            "connect it to single sign-on."
        ),
        "disabled": _("Your account is deactivated."),
    }


def refused(code: str, status: int = 403):  # type: ignore[no-untyped-def]
    text = reasons().get(code, reasons()["claims"])
    page = render_template("auth/sso_refused.html", reason=text, code=code)
    return page, status, {"Cache-Control": "no-store"}


def _redirect_uri() -> str:
    return url_for("sso.callback", _external=True)


@bp.get("/login/sso/<slug>")
def start(slug: str):  # type: ignore[no-untyped-def]
    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug[:64]))
    config = sso.config_for(tenant.id) if tenant is not None else None
    if config is None or not config.enabled:
        abort(404)
    try:
        meta = oidc.discover(config.issuer)
        url, pending = oidc.begin(meta, config.client_id, _redirect_uri())
    except oidc.OidcError as exc:
        return refused(exc.code, 502 if exc.code == "unreachable" else 400)
    session[PENDING_KEY] = {
        "tenant_id": tenant.id,
        "state": pending.state,
        "nonce": pending.nonce,
        "verifier": pending.code_verifier,
        "next": _safe_next(request.args.get("next")),
    }
    return redirect(url, 303)


@bp.get("/login/sso/callback")
def callback():  # type: ignore[no-untyped-def]
    # Taken out at once: a callback URL (or its code, nonce) works once only.
    pending: dict[str, Any] | None = session.pop(PENDING_KEY, None)
    if not isinstance(pending, dict):
        return refused("state", 400)
    config = sso.config_for(int(pending["tenant_id"]))
    if config is None or not config.enabled:
        return refused("state", 400)
    try:
        secret = sso.client_secret(config)
    except secret_store.SecretUnavailable:
        return refused("secret", 503)
    try:
        meta = oidc.discover(config.issuer)
        claims = oidc.finish(
            meta,
            issuer=config.issuer,
            client_id=config.client_id,
            client_secret=secret,
            redirect_uri=_redirect_uri(),
            pending=oidc.Pending(pending["state"], pending["nonce"], pending["verifier"]),
            state=request.args.get("state"),
            code=request.args.get("code"),
            error=request.args.get("error"),
        )
    except oidc.OidcError as exc:
        return refused(exc.code, 502 if exc.code == "unreachable" else 400)
    try:
        user = sso.sign_in(config, claims)
    except sso.SsoRefused as exc:
        db.session.rollback()
        return refused(str(exc), 403)
    db.session.commit()
    start_session(user)
    return redirect(pending.get("next") or url_for("queue.index"))


# --- The admin page -------------------------------------------------------------------------


def field_errors() -> dict[str, str]:
    return {
        "issuer": _("Give the issuer URL of the identity provider."),
        "issuer_insecure_url": _("The issuer URL must start with https://."),
        "issuer_private_url": _(
            "The issuer URL points into a private network, which is not allowed."
        ),
        "issuer_unreachable": _("The issuer URL's host cannot be found."),
        "client_id": _("Give the client id (at most 255 characters)."),
        "client_secret": _(
            "Give the client secret, or the name of the environment variable that holds it."
        ),
        "client_secret_env": _("The environment variable's name may hold letters, digits and _."),
        "allowed_domains": _("Give at least one e-mail domain, such as kommune.no."),
        "groups_claim": _("The groups claim name can be at most 64 characters."),
        "group_roles": _(
            "Map at least one group to a role, one per line: group = admin, records_officer "
            "or caseworker."
        ),
        "group_teams": _("Map groups to teams one per line: group = team, team."),
    }


def _page(tenant: Tenant, *, form: Any = None, status: int = 200):  # type: ignore[no-untyped-def]
    config = sso.config_for(tenant.id)
    if form is None and config is not None:
        form = {
            "enabled": "1" if config.enabled else "",
            "issuer": config.issuer,
            "client_id": config.client_id,
            "client_secret_env": config.client_secret_env or "",
            "allowed_domains": "\n".join(config.allowed_domains),
            "groups_claim": config.groups_claim,
            "group_roles": sso.format_mapping(config.group_roles),
            "group_teams": sso.format_mapping(config.group_teams),
        }
    page = render_template(
        "admin/sso.html",
        tenant=tenant,
        tenants=admin_tenants(),
        config=config,
        form=form or {"groups_claim": "groups"},
        redirect_uri=_redirect_uri(),
        roles=[r.value for r in Role],
        widgets=_widgets(tenant.id),
        idporten_levels=list(idporten.LEVELS),
    )
    return page, status, {"Cache-Control": "no-store"}


@bp.get("/admin/sso/")
@login_required
def admin():  # type: ignore[no-untyped-def]
    tenant_id = chosen_tenant_id(admin_tenants(), request.args.get("tenant"))
    require_role(tenant_id, Role.ADMIN)
    return _page(db.session.get(Tenant, tenant_id))


@bp.post("/admin/sso/<int:tenant_id>")
@login_required
def save(tenant_id: int):  # type: ignore[no-untyped-def]
    actor = require_role(tenant_id, Role.ADMIN)
    tenant = db.session.get(Tenant, tenant_id)
    try:
        sso.save_config(tenant, request.form.to_dict(), actor)
    except sso.ConfigError as exc:
        db.session.rollback()
        flash(field_errors().get(str(exc), field_errors()["issuer"]), "error")
        return _page(tenant, form=request.form, status=400)
    db.session.commit()
    flash(_("Single sign-on settings saved."), "success")
    return redirect(url_for(".admin", tenant=tenant_id), 303)


# --- ID-porten in the chat widgets (channels/webchat/idporten.py) ---------------------------


def _widgets(tenant_id: int) -> list[tuple[ChannelAccount, dict[str, Any]]]:
    rows = db.session.scalars(
        select(ChannelAccount)
        .where(ChannelAccount.tenant_id == tenant_id, ChannelAccount.kind == ChannelKind.WEBCHAT)
        .order_by(ChannelAccount.name)
    )
    return [(a, dict((a.config or {}).get("idporten") or {})) for a in rows]


def idporten_errors() -> dict[str, str]:
    return {
        "issuer": _("ID-porten's issuer URL must be an https address on a public network."),
        "client_id": _("Give the client id of the municipality's ID-porten integration."),
        "client_secret": _(
            "Give the client secret, or the name of the environment variable that holds it."
        ),
        "acr": _("Choose a level of assurance."),
    }


@bp.post("/admin/sso/<int:tenant_id>/idporten/<int:widget_account_id>")
@login_required
def save_idporten(tenant_id: int, widget_account_id: int):  # type: ignore[no-untyped-def]
    actor = require_role(tenant_id, Role.ADMIN)
    tenant = db.session.get(Tenant, tenant_id)
    account = db.session.get(ChannelAccount, widget_account_id)
    if account is None or account.tenant_id != tenant_id or account.kind != ChannelKind.WEBCHAT:
        abort(404)
    try:
        idporten.save_settings(account, request.form.to_dict(), actor)
    except idporten.SettingsError as exc:
        db.session.rollback()
        flash(idporten_errors()[str(exc)], "error")
        return _page(tenant, status=400)
    db.session.commit()
    flash(_("ID-porten settings for %(name)s saved.", name=account.name), "success")
    return redirect(url_for(".admin", tenant=tenant_id), 303)
