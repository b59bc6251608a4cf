"""Rate limits for the public chat API, per visitor token and per IP address (Flask-Limiter).

Counters live in Redis when REDIS_URL is set (shared by every web process), in memory
otherwise. Limit strings are read from the config on each request. With Redis down the limits
fall back to memory (per process) until it is back; a limiter error never fails a request.
"""

from __future__ import annotations

import hashlib

from flask import Flask, current_app, request
from flask_limiter import Limiter


def _ip() -> str:
    # ProxyFix (TRUST_PROXY_HEADERS) has already put the client's address here.
    return request.remote_addr or "unknown"


def token_key() -> str:
    token = request.headers.get("X-Chat-Token", "")
    # Never keep the bearer token itself in the limiter's storage.
    return "t:" + hashlib.sha256(token.encode()).hexdigest()[:32] if token else "ip:" + _ip()


limiter = Limiter(key_func=_ip, default_limits=[], headers_enabled=True)


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


def cfg(name: str):  # type: ignore[no-untyped-def]
    return lambda: current_app.config[name]


post_per_token = limiter.limit(cfg("WEBCHAT_LIMIT_POST_PER_TOKEN"), key_func=token_key)
# Shared by every write endpoint: one address cannot spread its writes to go unnoticed.
post_per_ip = limiter.shared_limit(
    cfg("WEBCHAT_LIMIT_POST_PER_IP"), scope="webchat-post-ip", key_func=_ip
)
read_per_token = limiter.limit(cfg("WEBCHAT_LIMIT_READ_PER_TOKEN"), key_func=token_key)
new_visitor_per_ip = limiter.limit(cfg("WEBCHAT_LIMIT_NEW_VISITOR_PER_IP"), key_func=_ip)
