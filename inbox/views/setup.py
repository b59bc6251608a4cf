"""A municipality's own setup, by its admin (or a regional administrator): profile, channels
(SMS, Facebook, WordPress, signed comment webhooks), the chat widget and the records system.
Each form is checked as a whole; secrets go to the encrypted store and are never shown again.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from inbox import secretstore
from inbox.extensions import db
from inbox.models import ChannelAccount, ChannelKind, Role, Team, Tenant, User
from inbox.services import audit, connection_test
from inbox.services import channel_setup as chs
from inbox.services import logo as logos
from inbox.services import tenants as tsvc
from inbox.services.access import current, require_role

bp = Blueprint("setup", __name__, url_prefix="/admin/municipality")


def municipal_admin(tenant_id: int) -> tuple[Tenant, User]:
    """The tenant and the acting admin: a regional administrator may set up any municipality;
    otherwise 404 for non-members and 403 for other roles."""
    user = current()
    tenant = db.session.get(Tenant, tenant_id)
    if user.is_regional_admin and tenant is not None:
        return tenant, user
    user = require_role(tenant_id, Role.ADMIN)
    if tenant is None:
        abort(404)
    return tenant, user


def labels() -> dict[str, str]:
    return {
        "name": _("Name shown in the inbox"),
        "number": _("Phone number (E.164, e.g. +4740000001)"),
        "account_sid": _("Twilio account SID (AC…)"),
        "auth_token": _("Twilio auth token"),
        "messaging_service_sid": _("Messaging Service SID (MG…, optional: send through it)"),
        "team_id": _("Team that gets the conversations"),
        "api_base_url": _("API address (only for a test installation)"),
        "page_id": _("Facebook page id"),
        "page_access_token": _("Page access token"),
        "app_secret": _("App secret"),
        "verify_token": _("Verify token (you choose it; give the same in Facebook)"),
        "graph_version": _("Graph API version (e.g. v21.0)"),
        "graph_url": _("Graph API address (only for a test installation)"),
        "ig_account_id": _("Instagram account id"),
        "linked_page_id": _("Id of the linked Facebook page"),
        "base_url": _("Site address (https://…)"),
        "user": _("WordPress user name"),
        "app_password": _("Application password"),
        "posts": _(
            "Posts or hearing pages to follow (ids, comma-separated; empty: the whole site)"
        ),
        "is_hearing": _("Comments are hearing input (suggested for the archive)"),
    }


def error_texts() -> dict[str, str]:
    return {
        "required": _("This is required."),
        "invalid": _("This value is not valid (at most 200 characters, no control characters)."),
        "url": _("Give a web address starting with https:// (or http://)."),
        "team": _("Choose one of the municipality's teams."),
        "posts": _("Give post ids as numbers separated by commas (at most 100)."),
        "format": _("The value does not have the expected form (see the label)."),
        "taken": _("This is already connected, in this or another municipality."),
        "hours": _("Give opening hours as 08:00-15:30 (several spans separated by commas)."),
        "timezone": _("Give a time zone such as Europe/Oslo."),
        "retention_days": _("Give a number of days between 1 and 3650."),
        "locale": _("Choose one of the languages."),
        "logo_empty": _("Choose a picture file to upload."),
        "logo_too_large": _("The picture is larger than 512 kB. Save it smaller and try again."),
        "logo_not_image": _(
            "This file is not a picture we can read. Upload a PNG, JPEG, GIF or WebP file."
        ),
        "logo_too_many_pixels": _("The picture is too large (at most 4096 × 4096 pixels)."),
        "name": _("Give the municipality's name (at most 200 characters)."),
        "origins": _("Give each origin as https://host (one per line, at most 20)."),
        "adapter": _("Choose one of the records systems."),
    }


def kind_titles() -> dict[str, str]:
    return {
        "sms": _("SMS number"),
        "facebook": _("Facebook page"),
        "instagram": _("Instagram account"),
        "wordpress": _("WordPress site"),
        "webhook": _("Signed comment webhook"),
    }


def _teams(tenant_id: int) -> list[Team]:
    return list(
        db.session.scalars(select(Team).where(Team.tenant_id == tenant_id).order_by(Team.name))
    )


def _base_url() -> str:
    return (current_app.config.get("PUBLIC_BASE_URL") or request.host_url).rstrip("/")


def _no_store(body: Any, status: int = 200) -> Any:
    resp = make_response(body, status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


# -- index and profile --------------------------------------------------------------------------


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    user = current()
    tenants = [m.tenant for m in user.active_memberships if m.role is Role.ADMIN]
    if not tenants:
        if user.is_regional_admin:
            return redirect(url_for("region.index"))
        abort(403)
    return redirect(url_for(".profile", tenant_id=tenants[0].id))


def _profile_page(tenant: Tenant, form: dict[str, Any], errors: dict[str, str], status: int = 200):  # type: ignore[no-untyped-def]
    return render_template(
        "admin/setup/profile.html",
        tenant=tenant,
        logo=logos.of(tenant.id),
        form=form,
        errors=errors,
        texts=error_texts(),
        days=tsvc.DAYS,
    ), status


@bp.get("/<int:tenant_id>/profile")
@login_required
def profile(tenant_id: int):  # type: ignore[no-untyped-def]
    tenant, _actor = municipal_admin(tenant_id)
    return _profile_page(tenant, _profile_form(tenant), {})


def _profile_form(tenant: Tenant) -> dict[str, Any]:
    hours = tsvc.hours_text(tenant.opening_hours)
    return {
        "name": tenant.name,
        "locale": tenant.locale,
        "timezone": tenant.timezone,
        "retention_days": tenant.retention_days,
        **{f"hours_{d}": v for d, v in hours.items()},
    }


@bp.post("/<int:tenant_id>/profile")
@login_required
def save_profile(tenant_id: int):  # type: ignore[no-untyped-def]
    tenant, actor = municipal_admin(tenant_id)
    try:
        tsvc.update_profile(tenant, request.form, actor=actor)
    except tsvc.TenantError as exc:
        db.session.rollback()
        code = str(exc)
        flash(_("Nothing was saved: correct the field marked below."), "error")
        return _profile_page(
            db.session.get(Tenant, tenant_id), dict(request.form), {code: code}, 400
        )
    db.session.commit()
    flash(_("The profile is saved."), "success")
    return redirect(url_for(".profile", tenant_id=tenant_id), 303)


@bp.post("/<int:tenant_id>/logo")
@login_required
def save_logo(tenant_id: int):  # type: ignore[no-untyped-def]
    """Upload a new logo, or remove it (the `remove` button)."""
    tenant, actor = municipal_admin(tenant_id)
    if request.form.get("remove"):
        if logos.remove(tenant, actor):
            db.session.commit()
            flash(_("The logo is removed."), "success")
        return redirect(url_for(".profile", tenant_id=tenant_id), 303)
    upload = request.files.get("logo")
    try:
        logos.store(tenant, upload.read(logos.MAX_BYTES + 1) if upload else b"", actor)
    except logos.LogoError as exc:
        db.session.rollback()
        tenant = db.session.get(Tenant, tenant_id)
        flash(_("The logo was not saved: see the message below."), "error")
        return _profile_page(tenant, _profile_form(tenant), {"logo": f"logo_{exc}"}, 400)
    db.session.commit()
    flash(_("The logo is saved."), "success")
    return redirect(url_for(".profile", tenant_id=tenant_id), 303)


# -- channels -----------------------------------------------------------------------------------


@bp.get("/<int:tenant_id>/channels")
@login_required
def channels(tenant_id: int):  # type: ignore[no-untyped-def]
    tenant, _actor = municipal_admin(tenant_id)
    rows = [(a, chs.page_kind(a)) for a in chs.accounts(tenant.id)]
    return render_template(
        "admin/setup/channels.html", tenant=tenant, rows=rows, titles=kind_titles()
    )


def _channel_page(
    tenant: Tenant,
    kind: str,
    account: ChannelAccount | None,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    result: connection_test.Result | None = None,
    generated: str | None = None,
    status: int = 200,
):  # type: ignore[no-untyped-def]
    body = render_template(
        "admin/setup/channel.html",
        tenant=tenant,
        kind=kind,
        title=kind_titles()[kind],
        account=account,
        fields=chs.FIELDS[kind],
        labels=labels(),
        form=form,
        errors=errors or {},
        texts=error_texts(),
        secrets=chs.secret_states(account, kind),
        teams=_teams(tenant.id),
        result=result,
        generated=generated,
        base=_base_url(),
        facebook_fields=chs.FACEBOOK_FIELDS,
        instagram_fields=chs.INSTAGRAM_FIELDS,
    )
    return _no_store(body, status)


@bp.get("/<int:tenant_id>/channels/new/<kind>")
@login_required
def new_channel(tenant_id: int, kind: str):  # type: ignore[no-untyped-def]
    tenant, _actor = municipal_admin(tenant_id)
    if kind not in chs.FIELDS:
        abort(404)
    return _channel_page(tenant, kind, None, chs.current_values(None))


@bp.post("/<int:tenant_id>/channels/new/<kind>")
@login_required
def create_channel(tenant_id: int, kind: str):  # type: ignore[no-untyped-def]
    tenant, actor = municipal_admin(tenant_id)
    if kind not in chs.FIELDS:
        abort(404)
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        saved = chs.save(tenant, kind, request.form, actor)
    except chs.SetupError as exc:
        db.session.rollback()
        flash(_("Nothing was saved: correct the fields marked below."), "error")
        safe = {k: v for k, v in form.items() if k not in _secret_names(kind)}
        return _channel_page(tenant, kind, None, safe, exc.errors, status=400)
    db.session.commit()
    flash(_("The channel is saved. Test the connection below."), "success")
    if saved.generated_secret:
        return _channel_page(
            tenant,
            kind,
            saved.account,
            chs.current_values(saved.account),
            generated=saved.generated_secret,
        )
    return redirect(url_for(".channel", tenant_id=tenant_id, account_id=saved.account.id), 303)


def _secret_names(kind: str) -> set[str]:
    return {f.name for f in chs.FIELDS[kind] if f.kind == "secret"}


def _account(tenant: Tenant, account_id: int) -> tuple[ChannelAccount, str]:
    account = chs.account_in(tenant.id, account_id)
    kind = chs.page_kind(account) if account is not None else None
    if account is None or kind is None:
        abort(404)
    return account, kind


@bp.get("/<int:tenant_id>/channels/<int:account_id>")
@login_required
def channel(tenant_id: int, account_id: int):  # type: ignore[no-untyped-def]
    tenant, _actor = municipal_admin(tenant_id)
    account, kind = _account(tenant, account_id)
    return _channel_page(tenant, kind, account, chs.current_values(account))


@bp.post("/<int:tenant_id>/channels/<int:account_id>")
@login_required
def update_channel(tenant_id: int, account_id: int):  # type: ignore[no-untyped-def]
    tenant, actor = municipal_admin(tenant_id)
    account, kind = _account(tenant, account_id)
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        chs.save(tenant, kind, request.form, actor, account)
    except chs.SetupError as exc:
        db.session.rollback()
        flash(_("Nothing was saved: correct the fields marked below."), "error")
        account, kind = _account(tenant, account_id)
        safe = {k: v for k, v in form.items() if k not in _secret_names(kind)}
        return _channel_page(tenant, kind, account, safe, exc.errors, status=400)
    db.session.commit()
    flash(_("The channel is saved."), "success")
    return redirect(url_for(".channel", tenant_id=tenant_id, account_id=account_id), 303)


@bp.post("/<int:tenant_id>/channels/<int:account_id>/test")
@login_required
def test_channel(tenant_id: int, account_id: int):  # type: ignore[no-untyped-def]
    tenant, actor = municipal_admin(tenant_id)
    account, kind = _account(tenant, account_id)
    tester = {
        "sms": connection_test.twilio,
        "facebook": connection_test.facebook,
        "instagram": connection_test.instagram,
        "wordpress": connection_test.wordpress,
    }.get(kind)
    if tester is None:
        result = connection_test.Result(True)
        result.good(_("A signed webhook is tested by sending to it; see the example below."))
    else:
        result = tester(account)
    audit.record(
        "channel.test",
        account,
        tenant_id=tenant.id,
        actor=actor,
        ok=result.ok,
        problem=result.problem,
    )
    db.session.commit()
    return _channel_page(
        tenant,
        kind,
        account,
        chs.current_values(account),
        result=result,
        status=200,
    )


@bp.post("/<int:tenant_id>/channels/<int:account_id>/enabled")
@login_required
def set_channel_enabled(tenant_id: int, account_id: int):  # type: ignore[no-untyped-def]
    tenant, actor = municipal_admin(tenant_id)
    account, _kind = _account(tenant, account_id)
    chs.set_enabled(account, request.form.get("enabled") == "1", actor)
    db.session.commit()
    flash(
        _("The channel is switched on.")
        if account.enabled
        else _("The channel is switched off: it accepts nothing."),
        "success",
    )
    return redirect(url_for(".channel", tenant_id=tenant_id, account_id=account_id), 303)


@bp.post("/<int:tenant_id>/channels/<int:account_id>/webhook-secret")
@login_required
def new_webhook_secret(tenant_id: int, account_id: int):  # type: ignore[no-untyped-def]
    tenant, actor = municipal_admin(tenant_id)
    account, kind = _account(tenant, account_id)
    if kind != "webhook":
        abort(404)
    secret = chs.new_webhook_secret(account, actor)
    db.session.commit()
    return _channel_page(tenant, kind, account, chs.current_values(account), generated=secret)


# -- the chat widget ----------------------------------------------------------------------------


def _widget_account(tenant: Tenant) -> ChannelAccount | None:
    return db.session.scalar(
        select(ChannelAccount)
        .where(ChannelAccount.tenant_id == tenant.id, ChannelAccount.kind == ChannelKind.WEBCHAT)
        .order_by(ChannelAccount.id)
        .limit(1)
    )


def _widget_page(tenant: Tenant, form: dict[str, Any], errors: dict[str, str], status: int = 200):  # type: ignore[no-untyped-def]
    account = _widget_account(tenant)
    return _no_store(
        render_template(
            "admin/setup/widget.html",
            tenant=tenant,
            account=account,
            form=form,
            errors=errors,
            texts=error_texts(),
            identity=secretstore.status(tenant, "chat_identity"),
            base=_base_url(),
            hours=tsvc.hours_text(tenant.opening_hours),
        ),
        status,
    )


@bp.get("/<int:tenant_id>/widget")
@login_required
def widget(tenant_id: int):  # type: ignore[no-untyped-def]
    tenant, _actor = municipal_admin(tenant_id)
    account = _widget_account(tenant)
    origins = "\n".join((account.config or {}).get("allowed_origins") or []) if account else ""
    return _widget_page(tenant, {"origins": origins}, {})


@bp.post("/<int:tenant_id>/widget")
@login_required
def save_widget(tenant_id: int):  # type: ignore[no-untyped-def]
    import secrets as pysecrets
    from urllib.parse import urlsplit

    tenant, actor = municipal_admin(tenant_id)
    raw = [
        o.strip().rstrip("/") for o in (request.form.get("origins") or "").splitlines() if o.strip()
    ]
    ok = len(raw) <= 20
    for origin in raw:
        parts = urlsplit(origin)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.path or parts.query:
            ok = False
    if not ok:
        flash(_("Nothing was saved: correct the field marked below."), "error")
        return _widget_page(tenant, dict(request.form), {"origins": "origins"}, 400)
    account = _widget_account(tenant)
    if account is None:
        account = ChannelAccount(
            tenant_id=tenant.id,
            kind=ChannelKind.WEBCHAT,
            name=_("Chat on the website"),
            external_id=pysecrets.token_urlsafe(16),
            secret_refs={},
            config={},
        )
        db.session.add(account)
        db.session.flush()
    account.config = {**(account.config or {}), "allowed_origins": raw}
    identity = (request.form.get("identity_key") or "").strip()
    if request.form.get("new_identity_key"):
        identity = pysecrets.token_urlsafe(32)
    if identity:
        secretstore.put(tenant, "chat_identity", identity, actor)
    audit.record(
        "widget.update",
        account,
        tenant_id=tenant.id,
        actor=actor,
        origins=raw,
        identity_key_changed=bool(identity),
    )
    db.session.commit()
    flash(_("The chat widget is saved."), "success")
    if identity and request.form.get("new_identity_key"):
        # A generated key is shown this once, for the site's developers.
        return _no_store(
            render_template(
                "admin/setup/shown_once.html",
                tenant=tenant,
                secret=identity,
                back=url_for(".widget", tenant_id=tenant.id),
            )
        )
    return redirect(url_for(".widget", tenant_id=tenant_id), 303)


# -- records system -----------------------------------------------------------------------------

ADAPTERS = ("embedded", "noark5_rest", "fiks_arkiv")


def _records_page(
    tenant: Tenant, form: dict[str, Any], errors: dict[str, str], result=None, status: int = 200
):  # type: ignore[no-untyped-def]
    return _no_store(
        render_template(
            "admin/setup/records.html",
            tenant=tenant,
            form=form,
            errors=errors,
            texts=error_texts(),
            token=secretstore.status(tenant, "records_token"),
            key_password=secretstore.status(tenant, "fiks_key_password"),
            adapters=ADAPTERS,
            result=result,
        ),
        status,
    )


def _records_form(tenant: Tenant) -> dict[str, Any]:
    cfg = tenant.records_config or {}
    return {
        "adapter": tenant.records_adapter,
        "base_url": cfg.get("base_url", ""),
        "arkivdel": cfg.get("arkivdel", ""),
        "outgoing_dir": cfg.get("outgoing_dir", ""),
        "incoming_dir": cfg.get("incoming_dir", ""),
        "fagsystem": cfg.get("fagsystem", ""),
        "private_key_path": cfg.get("private_key_path", ""),
    }


@bp.get("/<int:tenant_id>/records")
@login_required
def records(tenant_id: int):  # type: ignore[no-untyped-def]
    tenant, _actor = municipal_admin(tenant_id)
    return _records_page(tenant, _records_form(tenant), {})


@bp.post("/<int:tenant_id>/records")
@login_required
def save_records(tenant_id: int):  # type: ignore[no-untyped-def]
    tenant, actor = municipal_admin(tenant_id)
    f = request.form
    adapter = f.get("adapter", "")
    errors: dict[str, str] = {}
    if adapter not in ADAPTERS:
        errors["adapter"] = "adapter"
    cfg = {k: v for k, v in (tenant.records_config or {}).items()}
    for key in (
        "base_url",
        "arkivdel",
        "outgoing_dir",
        "incoming_dir",
        "fagsystem",
        "private_key_path",
    ):
        value = (f.get(key) or "").strip()
        if len(value) > 500 or not value.isprintable():
            errors[key] = "invalid"
        if value:
            cfg[key] = value
        else:
            cfg.pop(key, None)
    if adapter == "noark5_rest":
        url = chs._url(cfg.get("base_url", ""))  # noqa: SLF001
        if url is None:
            errors["base_url"] = "url"
        else:
            cfg["base_url"] = url
    if errors:
        flash(_("Nothing was saved: correct the fields marked below."), "error")
        return _records_page(
            tenant, {k: v for k, v in f.items() if k != "token"}, errors, status=400
        )
    tenant.records_adapter = adapter
    tenant.records_config = cfg
    token = (f.get("token") or "").strip()
    if token:
        secretstore.put(tenant, "records_token", token, actor)
    key_password = (f.get("key_password") or "").strip()
    if key_password:
        secretstore.put(tenant, "fiks_key_password", key_password, actor)
    audit.record(
        "records.settings",
        tenant,
        tenant_id=tenant.id,
        actor=actor,
        adapter=adapter,
        token_changed=bool(token),
    )
    db.session.commit()
    flash(_("The records system settings are saved."), "success")
    return redirect(url_for(".records", tenant_id=tenant_id), 303)


@bp.post("/<int:tenant_id>/records/test")
@login_required
def test_records(tenant_id: int):  # type: ignore[no-untyped-def]
    tenant, actor = municipal_admin(tenant_id)
    result = connection_test.records(tenant)
    audit.record(
        "records.test",
        tenant,
        tenant_id=tenant.id,
        actor=actor,
        ok=result.ok,
        problem=result.problem,
    )
    db.session.commit()
    return _records_page(tenant, _records_form(tenant), {}, result=result)
