"""Blueprints, error pages and commands of the web app."""

from __future__ import annotations

import logging
import re

from flask import Flask, abort, current_app, g, jsonify, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from markupsafe import escape
from sqlalchemy import exc as sa_exc
from sqlalchemy import select, text
from werkzeug.exceptions import HTTPException

from inbox.extensions import db, login_manager

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 30  # what a provider (or browser) is told to wait with the database down


def register(app: Flask) -> None:
    from archiving.period_views import bp as periods_bp
    from archiving.triage_views import bp as triage_bp
    from archiving.views import bp as records_bp
    from channels.facebook.views import bp as facebook_bp
    from channels.instagram.views import bp as instagram_bp
    from channels.sms_alerts.views import bp as alerts_bp
    from channels.twilio_sms.views import bp as twilio_sms_bp
    from channels.webchat.idporten_views import bp as webchat_idporten_bp
    from channels.webchat.staff import bp as webchat_staff_bp
    from channels.webchat.views import bp as webchat_bp
    from channels.wordpress.views import bp as webcomments_bp
    from inbox import api, presence, ratelimit
    from inbox.cli import register_commands
    from inbox.views.account import bp as account_bp
    from inbox.views.actions import bp as actions_bp
    from inbox.views.api_tokens_admin import bp as api_tokens_admin_bp
    from inbox.views.auditlog import bp as auditlog_bp
    from inbox.views.auth import bp as auth_bp
    from inbox.views.canned import bp as canned_bp
    from inbox.views.conversation import bp as conversation_bp
    from inbox.views.demo import bp as demo_bp
    from inbox.views.insight import bp as insight_bp
    from inbox.views.logo import bp as logo_bp
    from inbox.views.matching import bp as matching_bp
    from inbox.views.privacy import bp as privacy_bp
    from inbox.views.privacy_admin import bp as privacy_admin_bp
    from inbox.views.queue import bp as queue_bp
    from inbox.views.region import bp as region_bp
    from inbox.views.routing import bp as routing_bp
    from inbox.views.setup import bp as setup_bp
    from inbox.views.sso import bp as sso_bp
    from inbox.views.staff import bp as staff_bp

    blueprints = (
        auth_bp,
        queue_bp,
        conversation_bp,
        records_bp,
        periods_bp,
        triage_bp,
        webchat_bp,
        demo_bp,
        twilio_sms_bp,
        facebook_bp,
        instagram_bp,
        webcomments_bp,
        matching_bp,
        actions_bp,
        canned_bp,
        staff_bp,
        account_bp,
        webchat_staff_bp,
        privacy_bp,
        privacy_admin_bp,
        api.blueprint(),
        api_tokens_admin_bp,
        sso_bp,
        webchat_idporten_bp,
        region_bp,
        setup_bp,
        auditlog_bp,
        routing_bp,
        insight_bp,
        logo_bp,
        alerts_bp,
    )
    for bp in blueprints:
        app.register_blueprint(bp)
    ratelimit.init_app(app)
    presence.init_app(app)
    app.register_error_handler(HTTPException, error_response)
    # The database unreachable, full or read-only: 503 with Retry-After, so providers retry.
    for exc_type in (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError):
        app.register_error_handler(exc_type, database_unavailable)
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
    503: (
        _l("Temporarily unavailable"),
        _l("The inbox cannot reach its database right now. Try again in a little while."),
    ),
    500: (
        _l("Something went wrong"),
        _l("The error has been logged. Try again, and contact support if it happens again."),
    ),
}


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/webhooks/", "/healthz")) or (
        request.accept_mimetypes.best == "application/json"
    )


def error_response(exc: HTTPException):  # type: ignore[no-untyped-def]
    from inbox import api

    if api.is_api_request():  # outside the API's routes too (an unknown path, a wrong method)
        from inbox.api.problems import from_http_exception

        return from_http_exception(exc)
    code = exc.code or 500
    if _wants_json():
        return jsonify(error=exc.name.lower().replace(" ", "_"), message=exc.description), code
    title, text = ERROR_TEXTS.get(code, (exc.name, exc.description))
    if exc.description != type(exc).description:  # a reason given where it was raised
        text = exc.description
    return render_template("error.html", code=code, title=title, text=text), code


def database_cause(exc: BaseException) -> str:
    """Why the database refused, in a word an operator can act on."""
    text_ = str(getattr(exc, "orig", None) or exc).lower()
    if "database or disk is full" in text_ or "no space left" in text_:
        return "disk_full"
    if "readonly" in text_ or "read-only" in text_ or "read only" in text_:
        return "read_only"
    if "disk i/o error" in text_:
        return "disk_io_error"
    if "database is locked" in text_:
        return "database_busy"
    return "database_unavailable"


def database_unavailable(exc: Exception):  # type: ignore[no-untyped-def]
    cause = database_cause(exc)
    log.error(
        "database unavailable (%s) for %s %s: %s",
        cause,
        request.method,
        request.path,
        getattr(exc, "orig", None) or exc,
    )
    _discard_session()  # nothing half-stored, and the connection goes back to the pool
    # Whoever is signed in cannot be looked up now: the answer (its language, the page's
    # layout) is made for an anonymous visitor instead of asking the database again.
    g._login_user = login_manager.anonymous_user()
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    from inbox import api

    if api.is_api_request():
        from inbox.api.problems import ApiProblem, response

        message = "The inbox cannot reach its database right now. Try again in a little while."
        return response(ApiProblem(503, message, headers=headers))
    if _wants_json():
        message = str(ERROR_TEXTS[503][1])
        return jsonify(error=cause, message=message), 503, headers
    title, text_ = ERROR_TEXTS[503]
    try:
        page = render_template("error.html", code=503, title=title, text=text_)
    except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError):
        # The page's layout asks for the signed-in user, which needs the database too.
        _discard_session()
        title, text_ = escape(title), escape(text_)
        page = f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{text_}</p>"
    return page, 503, headers


_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def _refuse_control_characters_in_path() -> None:
    """No route takes NUL or other control characters in its path (a widget key, a slug, a
    page id): such a request is not found, and never reaches a database query."""
    if _CONTROL_CHARACTERS.search(request.path):
        abort(404)


def _health():  # type: ignore[no-untyped-def]
    try:
        db.session.execute(select(text("1")))
    except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError) as exc:
        _discard_session()
        cause = database_cause(exc)
        log.error("health check: database unavailable (%s): %s", cause, exc)
        body = {"status": "unavailable", "database": "unavailable", "cause": cause}
        return jsonify(body), 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    db.session.rollback()
    return jsonify(status="ok", database="ok", redis=_redis_health())


def _redis_health() -> str | None:
    """Redis down degrades the service (polling, local rate limits) without stopping it."""
    if not current_app.config.get("REDIS_URL"):
        return None
    from inbox.services.realtime import redis_client

    try:
        redis_client().ping()
    except Exception:  # noqa: BLE001
        return "unavailable"
    return "ok"


def _discard_session() -> None:
    """Roll back and hand the connection back, whatever state a failure left the session in."""
    try:
        db.session.rollback()
    except Exception as exc:  # noqa: BLE001
        log.warning("rollback failed, closing the session: %s", exc)
    try:
        db.session.close()
    except Exception as exc:  # noqa: BLE001
        log.warning("closing the session failed: %s", exc)


def _rollback_leftovers(exc: BaseException | None) -> None:
    # One transaction per request: anything a failing handler left uncommitted is discarded.
    # Never raises: a teardown that raised would skip the session's removal and keep its
    # connection out of the pool for good.
    if exc is not None:
        _discard_session()
