"""Sign-in and sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from inbox.extensions import db
from inbox.models import User
from inbox.ratelimit import login_per_ip
from inbox.services import sessions, signin

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField("email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=1000)])


def locked_message() -> str:
    return _(
        "Too many failed attempts. The account is locked for %(minutes)s minutes.",
        minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"],
    )


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("queue.index")


def start_session(user: User) -> None:
    """A fresh session at sign-in (no fixation); the chosen language survives. Commits."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session.permanent = True
    login_user(user)
    session[sessions.SESSION_KEY] = sessions.start(user)
    db.session.commit()


@bp.route("/login", methods=["GET", "POST"])
@login_per_ip
def login():  # type: ignore[no-untyped-def]
    form = LoginForm()
    if form.validate_on_submit():
        result = signin.attempt(form.email.data or "", form.password.data or "")
        db.session.commit()
        if result.user is not None:
            start_session(result.user)
            return redirect(_safe_next(request.args.get("next")))
        if result.deactivated:
            flash(
                _(
                    "Your municipality's inbox has been taken out of service. Contact the "
                    "regional administrator."
                ),
                "error",
            )
        elif result.locked:
            flash(locked_message(), "error")
        else:
            flash(_("Wrong e-mail address or password."), "error")
    from inbox.services.sso import enabled_tenants

    page = render_template("auth/login.html", form=form, sso_tenants=enabled_tenants())
    return page, 200 if request.method == "GET" else 400


@bp.post("/logout")
@login_required
def logout():  # type: ignore[no-untyped-def]
    """Ends this session on the server too: the cookie is worth nothing afterwards."""
    sessions.end(session.pop(sessions.SESSION_KEY, None))
    db.session.commit()
    logout_user()
    return redirect(url_for("auth.login"))
