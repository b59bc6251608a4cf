"""Blueprints, error pages and commands of the web app."""

from __future__ import annotations

from flask import Flask, abort, jsonify, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, text
from werkzeug.exceptions import HTTPException

from inbox.extensions import db


def register(app: Flask) -> None:
    from archiving.triage_views import bp as triage_bp
    from archiving.views import bp as records_bp
    from channels.facebook.views import bp as facebook_bp
    from channels.twilio_sms.views import bp as twilio_sms_bp
    from channels.webchat.staff import bp as webchat_staff_bp
    from channels.webchat.views import bp as webchat_bp
    from channels.wordpress.views import bp as webcomments_bp
    from inbox import presence, ratelimit
    from inbox.cli import register_commands
    from inbox.views.account import bp as account_bp
    from inbox.views.actions import bp as actions_bp
    from inbox.views.auth import bp as auth_bp
    from inbox.views.canned import bp as canned_bp
    from inbox.views.conversation import bp as conversation_bp
    from inbox.views.demo import bp as demo_bp
    from inbox.views.matching import bp as matching_bp
    from inbox.views.queue import bp as queue_bp
    from inbox.views.staff import bp as staff_bp

    blueprints = (
        auth_bp,
        queue_bp,
        conversation_bp,
        records_bp,
        triage_bp,
        webchat_bp,
        demo_bp,
        twilio_sms_bp,
        facebook_bp,
        webcomments_bp,
        matching_bp,
        actions_bp,
        canned_bp,
        staff_bp,
        account_bp,
        webchat_staff_bp,
    )
    for bp in blueprints:
        app.register_blueprint(bp)
    ratelimit.init_app(app)
    presence.init_app(app)
    app.register_error_handler(HTTPException, error_response)
    app.before_request(_refuse_control_characters_in_path)
    app.context_processor(lambda: {"get_locale": get_locale})
    app.add_url_rule("/healthz", "healthz", _health)
    app.teardown_appcontext(_rollback_leftovers)
    register_commands(app)


# What a person reads on an error page when the code that raised it gave no reason of its own
# (Werkzeug's defaults are English and written for developers).
ERROR_TEXTS = {
    400: (_l("The request is not valid"), _l("Something in the address or the form is wrong.")),
    401: (_l("Sign in first"), _l("You must be signed in to see this page.")),
    403: (_l("Not allowed"), _l("Your role does not give access to this page.")),
    404: (
        _l("Not found"),
        _l("The page does not exist, or you do not have access to what it shows."),
    ),
    405: (_l("The request is not valid"), _l("This address cannot be used that way.")),
    413: (_l("Too large"), _l("What was sent is larger than allowed.")),
    429: (_l("Too many requests"), _l("Wait a little and try again.")),
    500: (
        _l("Something went wrong"),
        _l("The error has been logged. Try again, and contact support if it happens again."),
    ),
}


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/webhooks/")) or (
        request.accept_mimetypes.best == "application/json"
    )


def error_response(exc: HTTPException):  # type: ignore[no-untyped-def]
    code = exc.code or 500
    if _wants_json():
        return jsonify(error=exc.name.lower().replace(" ", "_"), message=exc.description), code
    title, text = ERROR_TEXTS.get(code, (exc.name, exc.description))
    if exc.description != type(exc).description:  # a reason given where it was raised
        text = exc.description
    return render_template("error.html", code=code, title=title, text=text), code


def _refuse_control_characters_in_path() -> None:
    """No route takes NUL or other control characters in its path (a widget key, a slug, a
    page id): such a request is not found, and never reaches a database query."""
    if any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in request.path):
        abort(404)


def _health():  # type: ignore[no-untyped-def]
    db.session.execute(select(text("1")))
    return jsonify(status="ok")


def _rollback_leftovers(exc: BaseException | None) -> None:
    # One transaction per request: anything a failing handler left uncommitted is discarded.
    if exc is not None:
        db.session.rollback()
