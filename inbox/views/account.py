"""The user's own settings (the interface language), locale filters and the CSRF error page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, request, session
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from inbox.extensions import db
from inbox.views.auth import _safe_next
from inbox.web import error_response

bp = Blueprint("account", __name__)


@bp.post("/language")
def language():  # type: ignore[no-untyped-def]
    """Switch language; kept in the session, and on the user when signed in."""
    lang = request.form.get("lang", "")
    if lang not in current_app.config["LANGUAGES"]:
        abort(400)
    session["lang"] = lang
    if current_user.is_authenticated:
        current_user.locale = lang
        db.session.commit()
    return redirect(_safe_next(request.form.get("next")), 303)


@bp.app_template_filter("number")
def number(value: float) -> str:
    """A number in the user's locale (e.g. 5 000 in Norwegian)."""
    return format_decimal(value)


@bp.app_template_filter("short_datetime")
def short_datetime(value):  # type: ignore[no-untyped-def]
    """Same text as datetimeformat('short'), fast enough for long threads."""
    from inbox.formatting import short_datetime as fmt

    return fmt(value)


@bp.app_errorhandler(CSRFError)
def csrf_failed(exc: CSRFError):  # type: ignore[no-untyped-def]
    """A form without a valid token: say what to do, in the user's language."""
    exc.description = _(
        "The form has expired or did not come from this site. Reload the page and try again."
    )
    return error_response(exc)
