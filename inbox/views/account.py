"""The user's own settings (language, password), locale filters and the CSRF error page."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError

from inbox.extensions import db
from inbox.services import sessions, signin, users
from inbox.services.access import current
from inbox.views.auth import _safe_next, locked_message
from inbox.web import error_response

bp = Blueprint("account", __name__)

# Reachable while a temporary password still has to be replaced: the page to replace it,
# signing in and out, the language, and what citizens and providers use (no staff pages).
OPEN_ENDPOINTS = {
    "account.password",
    "account.language",
    "auth.login",
    "auth.logout",
    "static",
    "healthz",
}
OPEN_BLUEPRINTS = {"webchat", "demo", "twilio_sms", "facebook", "instagram", "webcomments"}

PASSWORD_ERRORS = {
    "current": lambda: _("The current password is wrong."),
    "repeat": lambda: _("The new password and its repetition are not the same."),
    "too_short": lambda: _(
        "The new password must be at least %(n)s characters.", n=users.MIN_PASSWORD_CHARS
    ),
    "too_long": lambda: _("The new password is too long."),
    "is_email": lambda: _("The new password cannot be your e-mail address."),
    "unchanged": lambda: _("Choose a password other than the current one."),
}


@bp.before_app_request
def _must_change_password():  # type: ignore[no-untyped-def]
    """A user with a temporary password goes to the password page from every staff page."""
    if request.endpoint is None or request.endpoint in OPEN_ENDPOINTS:
        return None
    if request.blueprint in OPEN_BLUEPRINTS:
        return None
    if current_user.is_authenticated and current_user.must_change_password:
        return redirect(url_for("account.password"), 303)
    return None


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():  # type: ignore[no-untyped-def]
    """Change one's own password. A wrong current password counts as a failed sign-in (same
    counter and lock-out), so a stolen session cannot be used to guess it; the guess that
    locks the account also ends the session. Changing the password ends the account's other
    sessions (the session token follows the password hash) and keeps this one."""
    user = current()
    if request.method == "GET":
        return _password_page()
    if signin.is_locked(user):
        flash(locked_message(), "error")
        return _password_page(), 400
    form = request.form
    try:
        users.change_own_password(
            user, form.get("current", ""), form.get("new", ""), form.get("repeat", "")
        )
    except users.PasswordRejected as exc:
        db.session.rollback()
        if str(exc) == "current":
            if signin.record_failure(user):
                sessions.end(session.pop(sessions.SESSION_KEY, None))
                db.session.commit()
                logout_user()
                flash(locked_message(), "error")
                return redirect(url_for("auth.login"), 303)
        elif user.failed_logins:
            signin.record_success(user)  # the current password was right
        db.session.commit()
        flash(PASSWORD_ERRORS[str(exc)](), "error")
        return _password_page(), 400
    signin.record_success(user)
    sessions.end_all(user, keep=sessions.find(user.id, session.get(sessions.SESSION_KEY)))
    db.session.commit()
    # The new password hash gives a new session token: this session carries it from now on,
    # sessions signed in with the old password are no longer accepted.
    login_user(user)
    flash(_("Your password has been changed."), "success")
    return redirect(url_for("queue.index"), 303)


def _password_page() -> str:
    return render_template(
        "auth/password.html",
        min_chars=users.MIN_PASSWORD_CHARS,
        max_chars=users.MAX_PASSWORD_CHARS,
    )


@bp.get("/account/sessions")
@login_required
def sessions_page():  # type: ignore[no-untyped-def]
    """Where the account is signed in: each browser, with a button to sign it out."""
    user = current()
    this = sessions.find(user.id, session.get(sessions.SESSION_KEY))
    return render_template(
        "auth/sessions.html", sessions=sessions.running(user), this_id=this.id if this else None
    )


@bp.post("/account/availability")
@login_required
def availability():  # type: ignore[no-untyped-def]
    """A caseworker marks themself away (no new conversations by automatic assignment) or
    available again; a supervisor can do the same on the routing page."""
    from inbox.services import routing

    user = current()
    available = request.form.get("available") == "1"
    for membership in user.active_memberships:
        routing.set_available(user, membership.tenant_id, user, available)
    db.session.commit()
    flash(
        _("You get new conversations again.")
        if available
        else _("You are away: automatic assignment gives you no new conversations."),
        "success",
    )
    return redirect(url_for(".sessions_page"), 303)


@bp.post("/account/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int):  # type: ignore[no-untyped-def]
    sessions.end_one(current(), session_id)
    db.session.commit()
    flash(_("The session has been signed out."), "success")
    return redirect(url_for("account.sessions_page"), 303)


@bp.post("/account/sessions/end-all")
@login_required
def end_all_sessions():  # type: ignore[no-untyped-def]
    """Sign out everywhere, this browser included."""
    user = current()
    sessions.end_all(user)
    db.session.commit()
    session.pop(sessions.SESSION_KEY, None)
    logout_user()
    flash(_("You have been signed out everywhere."), "success")
    return redirect(url_for("auth.login"), 303)


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
