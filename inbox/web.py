"""Blueprints, error pages and commands of the web app."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import get_locale
from sqlalchemy import select, text
from werkzeug.exceptions import HTTPException

from inbox.extensions import db


def register(app: Flask) -> None:
    from archiving.triage_views import bp as triage_bp
    from archiving.views import bp as records_bp
    from channels.facebook.views import bp as facebook_bp
    from channels.twilio_sms.views import bp as twilio_sms_bp
    from channels.webchat import limits as webchat_limits
    from channels.webchat.staff import bp as webchat_staff_bp
    from channels.webchat.views import bp as webchat_bp
    from channels.wordpress.views import bp as webcomments_bp
    from inbox import presence
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
    webchat_limits.init_app(app)
    presence.init_app(app)
    app.register_error_handler(HTTPException, _http_error)
    app.context_processor(lambda: {"get_locale": get_locale})
    app.add_url_rule("/healthz", "healthz", _health)
    app.teardown_appcontext(_rollback_leftovers)
    register_commands(app)


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/webhooks/")) or (
        request.accept_mimetypes.best == "application/json"
    )


def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
    code = exc.code or 500
    if _wants_json():
        return jsonify(error=exc.name.lower().replace(" ", "_"), message=exc.description), code
    return render_template("error.html", code=code, error=exc), code


def _health():  # type: ignore[no-untyped-def]
    db.session.execute(select(text("1")))
    return jsonify(status="ok")


def _rollback_leftovers(exc: BaseException | None) -> None:
    # One transaction per request: anything a failing handler left uncommitted is discarded.
    if exc is not None:
        db.session.rollback()
