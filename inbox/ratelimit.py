"""The installation's rate limiter (Flask-Limiter), shared by the public chat API and sign-in.

Counters live in Redis when REDIS_URL is set (shared by every web process), in memory
otherwise. Limit strings are read from the config on each request. With Redis down the limits
fall back to memory (per process) until it is back; a limiter error never fails a request.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, wraps
from typing import Any

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter


def client_ip() -> str:
    # ProxyFix (TRUST_PROXY_HEADERS) has already put the client's address here.
    return request.remote_addr or "unknown"


limiter = Limiter(key_func=client_ip, default_limits=[], headers_enabled=True)


def init_app(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    # Installations (and test runs) sharing one Redis keep their counters apart.
    app.config.setdefault(
        "RATELIMIT_KEY_PREFIX", f"servicetorg:{app.config.get('CELERY_QUEUE_PREFIX', '')}"
    )
    if app.config.get("REDIS_URL"):
        app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
        # A dead Redis costs milliseconds (redis-py waits forever by default).
        app.config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 0.5, "socket_timeout": 1.0}
        )
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    limiter.init_app(app)
    # No limit applies to a provider's webhook (signed; the provider paces itself): there the
    # limiter's per-request bookkeeping (before, after and at the end of each request) is
    # skipped altogether, not only its search for limits.
    for hooks in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        funcs = hooks.get(None, [])
        for i, fn in enumerate(funcs):
            if getattr(fn, "__self__", None) is limiter or _is_limiter_partial(fn):
                funcs[i] = _unless_webhook(fn)


def _is_limiter_partial(fn: Any) -> bool:
    return isinstance(fn, partial) and limiter in fn.args


def _unless_webhook(fn: Callable[..., Any]) -> Callable[..., Any]:
    from inbox.security import is_webhook

    @wraps(fn)
    def hook(*args: Any) -> Any:
        if is_webhook():
            return args[0] if args and isinstance(args[0], Response) else None
        return fn(*args)

    return hook


def cfg(name: str):  # type: ignore[no-untyped-def]
    return lambda: current_app.config[name]


# Every sign-in attempt costs an argon2 hash; one address guessing across many accounts
# never reaches any account's own lock, so it is limited on its own (LOGIN_LIMIT_PER_IP).
login_per_ip = limiter.limit(
    cfg("LOGIN_LIMIT_PER_IP"), key_func=client_ip, methods=["POST"], scope="login-ip"
)
