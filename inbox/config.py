"""Configuration: code defaults -> config.toml -> SERVICETORG_* environment -> test overrides.

A missing or invalid setting stops start-up with a message that names it.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

ENV_PREFIX = "SERVICETORG"

DEFAULTS: dict[str, Any] = {
    # "embedded" runs on SQLite with an embedded Celery broker; "production" requires
    # PostgreSQL and Redis URLs and an explicit SECRET_KEY.
    "MODE": "embedded",
    "SECRET_KEY": None,
    "DATABASE_URL": None,  # default: sqlite:///<instance>/servicetorg.db
    "BROKER_URL": None,  # default: sqla+sqlite:///<instance>/broker.db
    "REDIS_URL": None,  # real-time fan-out and rate limits; None = database polling / memory
    # e.g. "https://innboks.example.kommune.no"; the URL providers sign webhooks with.
    "PUBLIC_BASE_URL": None,
    "TRUST_PROXY_HEADERS": 0,  # number of reverse proxies whose X-Forwarded-* headers we trust
    "DEFAULT_LOCALE": "nb",
    "LANGUAGES": ["nb", "nn", "en"],
    "DEFAULT_TIMEZONE": "Europe/Oslo",
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    "MAX_MESSAGE_CHARS": 5000,
    "MAX_ATTACHMENT_BYTES": 10 * 1024 * 1024,
    # None = secure cookies in production mode (HTTPS), plain in embedded mode.
    "SESSION_COOKIE_SECURE": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "RECORDS_DIR": None,  # default: <instance>/records (embedded records system)
    # A folder of Arkivverket's official Noark 5 schemas (arkivstruktur.xsd, metadatakatalog.xsd,
    # …); the deposit export copies them into the package. None: packages without schemas.
    "NOARK5_SCHEMA_DIR": None,
    "CELERY_TASK_ALWAYS_EAGER": False,
    "CELERY_QUEUE_PREFIX": "",
    "SWEEP_INTERVAL_SECONDS": 60,
    # Work whose task is this old without progress counts as lost (broker down at commit
    # time, worker killed) and the sweeper sends it again.
    "SWEEP_STALE_SECONDS": 120,
    "POLL_INTERVAL_SECONDS": 120,
    # A worker holds an archive item this long while journalling it; after that the item is
    # assumed abandoned (worker killed) and another worker takes it over (finding any entry the
    # dead worker made by its external key). Keep it well above the records-system timeouts.
    "ARCHIVE_LEASE_SECONDS": 600,
    # How long a worker holds a reply it is sending; longer than any provider call can take
    # (their HTTP timeouts are seconds). A send still held after this had its worker die.
    "SEND_LEASE_SECONDS": 300,
    "INBOUND_BATCH_SIZE": 500,
    # PostgreSQL connections a process keeps open: one per gunicorn thread (README's production
    # line runs 16), so a busy web process never connects per request; up to
    # DATABASE_MAX_OVERFLOW more are opened for a burst and closed again when given back.
    "DATABASE_POOL_SIZE": 16,
    "DATABASE_MAX_OVERFLOW": 8,
    # Webhooks read their channel account (id, tenant, secret references) from a per-process
    # cache this many seconds old at most; 0 looks it up on every request (docs/inbound.md).
    "WEBHOOK_ACCOUNT_CACHE_SECONDS": 5,
    # At most one worker kick per web process per this many milliseconds; webhooks in between
    # ride on it (a trailing kick follows). 0 kicks after every webhook.
    "INBOUND_KICK_INTERVAL_MS": 200,
    # Under a storm the inbound worker waits this long after a batch (holding the batch lock)
    # so the next one gathers what arrives meanwhile instead of a few events at a time; a
    # quiet hour's single messages never wait (docs/inbound.md). 0: never wait.
    "INBOUND_BATCH_GATHER_MS": 500,
    "INBOUND_EVENTS_KEEP_HOURS": 72,
    # How often an item handed to an asynchronous records system (Fiks Arkiv) looks for its
    # receipt (kvittering) in the incoming folder.
    "ARCHIVE_RECEIPT_POLL_SECONDS": 60,
    # Facebook (docs/facebook.md): the Graph API version facebook-sdk is told to use, the API
    # host (a channel account's config "graph_url" overrides it), the HTTP timeout, and how far
    # the poller reads: days back on its first run, days of posts checked for new comments, and
    # at most this many result pages per edge per run.
    "FACEBOOK_GRAPH_VERSION": "v21.0",
    "FACEBOOK_GRAPH_URL": "https://graph.facebook.com/",
    "FACEBOOK_TIMEOUT_SECONDS": 10,
    "FACEBOOK_POLL_FIRST_DAYS": 7,
    "FACEBOOK_POLL_POST_DAYS": 30,
    "FACEBOOK_POLL_MAX_PAGES": 10,
    # Largest accepted body of the generic comment webhook (/webhooks/comments/<id>), in bytes.
    "WEB_COMMENTS_MAX_BODY_BYTES": 64 * 1024,
    # Failed sign-ins in a row before an account is locked, and for how long.
    "LOGIN_MAX_FAILURES": 5,
    # argon2id cost; None = the argon2-cffi defaults (RFC 9106 low-memory profile).
    "PASSWORD_HASH_TIME_COST": None,
    "PASSWORD_HASH_MEMORY_KIB": None,
    "LOGIN_LOCKOUT_MINUTES": 15,
    # Sign-in attempts per client address (Flask-Limiter syntax), whichever accounts they
    # name: each costs an argon2 hash, and guessing across accounts dodges the per-account lock.
    "LOGIN_LIMIT_PER_IP": "20/minute;200/hour",
    # The demo municipality page (/demo/<slug>); None = on in embedded mode, off in production.
    "DEMO_PAGE": None,
    # Fetching provider media (MMS, Messenger attachments), docs/security.md: seconds for the
    # whole download, and hosts allowed although they resolve to private, loopback or
    # link-local addresses (only for a local fake provider in tests or development).
    "MEDIA_FETCH_TIMEOUT_SECONDS": 20,
    "MEDIA_FETCH_ALLOW_PRIVATE_HOSTS": [],
    # Staff sessions end after this many minutes (Flask's permanent session lifetime).
    "SESSION_LIFETIME_MINUTES": 8 * 60,
    # Web chat (channels/webchat, docs/webchat.md).
    "WEBCHAT_IDENTITY_MAX_AGE_SECONDS": 3600,  # how old a site's HMAC signature may be
    "WEBCHAT_ONLINE_WINDOW_SECONDS": 300,  # a caseworker seen this recently counts as online
    "WEBCHAT_STREAM_SECONDS": 25,  # one server-sent-events response lasts at most this long
    "WEBCHAT_STREAM_POLL_SECONDS": 1.0,  # how often a stream looks for news in the database
    # Open streams per web process (each holds a thread); beyond it the widget polls instead.
    "WEBCHAT_MAX_STREAMS": 8,
    "WEBCHAT_TYPING_SECONDS": 6,  # a caseworker's typing signal shows this long
    "WEBCHAT_MAX_REQUEST_BYTES": 32 * 1024,  # largest JSON body the public chat API accepts
    # Rate limits (Flask-Limiter syntax); Redis at REDIS_URL stores them, memory otherwise.
    "WEBCHAT_LIMIT_POST_PER_TOKEN": "20/minute;200/hour",
    "WEBCHAT_LIMIT_POST_PER_IP": "120/minute;2000/hour",
    "WEBCHAT_LIMIT_READ_PER_TOKEN": "120/minute",
    "WEBCHAT_LIMIT_NEW_VISITOR_PER_IP": "30/minute;300/hour",
    # Requests per API token (/api/v1, docs/api.md); answered 429 with Retry-After beyond it.
    "API_LIMIT_PER_TOKEN": "300/minute;10000/hour",
    # Real-time (SSE): a stream ends after this long (it holds a gthread thread) and the
    # browser reconnects after REALTIME_RETRY_MS; without Redis the stream polls the database
    # every REALTIME_POLL_SECONDS (also the keep-alive interval with Redis).
    "REALTIME_STREAM_SECONDS": 55,
    "REALTIME_POLL_SECONDS": 1.0,
    "REALTIME_RETRY_MS": 2000,
    # OpenID Connect (docs/sso.md): providers must be https and, in production mode, on
    # public addresses; plain http is allowed for loopback only when this is set (tests).
    "OIDC_ALLOW_HTTP_LOOPBACK": False,
    # SMS alerts (docs/sms.md, "Alerts"): messages per second one sending worker holds to
    # (Twilio queues what a number or Messaging Service cannot pass on at once), recipients a
    # worker takes per task, the list size above which a second person must confirm, the
    # price estimate per segment, how long replies count as answers to an alert, the largest
    # CSV upload and recipient count, and how long after an attempt whose answer was lost a
    # lookup that finds nothing at Twilio is believed.
    "ALERT_RATE_PER_SECOND": 10.0,
    "ALERT_BATCH_SIZE": 200,
    "ALERT_CONFIRM_ABOVE": 500,
    "ALERT_PRICE_PER_SEGMENT": 0.60,
    "ALERT_PRICE_CURRENCY": "NOK",
    "ALERT_REPLY_WINDOW_HOURS": 72,
    "ALERT_MAX_CSV_BYTES": 1536 * 1024,  # below MAX_CONTENT_LENGTH, which bounds the upload
    "ALERT_MAX_RECIPIENTS": 50000,
    "ALERT_SETTLE_SECONDS": 60,
}

_TYPES: dict[str, type | tuple[type, ...]] = {
    "MODE": str,
    "DEFAULT_LOCALE": str,
    "LANGUAGES": list,
    "MAX_CONTENT_LENGTH": int,
    "MAX_MESSAGE_CHARS": int,
    "MAX_ATTACHMENT_BYTES": int,
    "TRUST_PROXY_HEADERS": int,
    "SWEEP_INTERVAL_SECONDS": (int, float),
    "SWEEP_STALE_SECONDS": (int, float),
    "POLL_INTERVAL_SECONDS": (int, float),
    "FACEBOOK_GRAPH_VERSION": str,
    "FACEBOOK_GRAPH_URL": str,
    "FACEBOOK_TIMEOUT_SECONDS": (int, float),
    "FACEBOOK_POLL_FIRST_DAYS": int,
    "FACEBOOK_POLL_POST_DAYS": int,
    "FACEBOOK_POLL_MAX_PAGES": int,
    "ARCHIVE_LEASE_SECONDS": (int, float),
    "SEND_LEASE_SECONDS": (int, float),
    "INBOUND_BATCH_SIZE": int,
    "DATABASE_POOL_SIZE": int,
    "DATABASE_MAX_OVERFLOW": int,
    "WEBHOOK_ACCOUNT_CACHE_SECONDS": (int, float),
    "INBOUND_KICK_INTERVAL_MS": (int, float),
    "INBOUND_BATCH_GATHER_MS": (int, float),
    "INBOUND_EVENTS_KEEP_HOURS": (int, float),
    "ARCHIVE_RECEIPT_POLL_SECONDS": (int, float),
    "WEB_COMMENTS_MAX_BODY_BYTES": int,
    "LOGIN_MAX_FAILURES": int,
    "LOGIN_LOCKOUT_MINUTES": (int, float),
    "SESSION_LIFETIME_MINUTES": (int, float),
    "LOGIN_LIMIT_PER_IP": str,
    "API_LIMIT_PER_TOKEN": str,
    "MEDIA_FETCH_TIMEOUT_SECONDS": (int, float),
    "MEDIA_FETCH_ALLOW_PRIVATE_HOSTS": list,
    "REALTIME_STREAM_SECONDS": (int, float),
    "REALTIME_POLL_SECONDS": (int, float),
    "REALTIME_RETRY_MS": int,
    "ALERT_RATE_PER_SECOND": (int, float),
    "ALERT_BATCH_SIZE": int,
    "ALERT_CONFIRM_ABOVE": int,
    "ALERT_PRICE_PER_SEGMENT": (int, float),
    "ALERT_PRICE_CURRENCY": str,
    "ALERT_REPLY_WINDOW_HOURS": (int, float),
    "ALERT_MAX_CSV_BYTES": int,
    "ALERT_MAX_RECIPIENTS": int,
    "ALERT_SETTLE_SECONDS": (int, float),
}


class ConfigError(RuntimeError):
    """Raised when configuration is missing or invalid; the message names the setting."""


def config_path() -> Path:
    return Path(os.environ.get(f"{ENV_PREFIX}_CONFIG", "config.toml"))


def load_config(app: Flask, overrides: dict[str, Any] | None = None) -> None:
    app.config.from_mapping(DEFAULTS)
    path = config_path()
    if path.is_file():
        try:
            app.config.from_file(str(path.resolve()), load=tomllib.load, text=False)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    elif f"{ENV_PREFIX}_CONFIG" in os.environ:
        raise ConfigError(f"{ENV_PREFIX}_CONFIG names {path}, which does not exist")
    app.config.from_prefixed_env(ENV_PREFIX)
    if overrides:
        app.config.from_mapping(overrides)
    _fill_defaults(app)
    validate(app.config)


def _fill_defaults(app: Flask) -> None:
    inst = Path(app.instance_path)
    cfg = app.config
    embedded = cfg["MODE"] == "embedded"
    if embedded:
        inst.mkdir(parents=True, exist_ok=True)
    if not cfg["DATABASE_URL"] and embedded:
        cfg["DATABASE_URL"] = f"sqlite:///{inst / 'servicetorg.db'}"
    if not cfg["BROKER_URL"] and embedded:
        cfg["BROKER_URL"] = f"sqla+sqlite:///{inst / 'broker.db'}"
    if not cfg["RECORDS_DIR"]:
        cfg["RECORDS_DIR"] = str(inst / "records")
    if not cfg["SECRET_KEY"] and embedded:
        cfg["SECRET_KEY"] = _embedded_secret(inst)
    url = cfg["DATABASE_URL"] or ""
    if url.startswith(("postgresql://", "postgres://")):
        # We ship psycopg 3; SQLAlchemy's bare postgresql:// would look for psycopg2.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
        cfg["DATABASE_URL"] = url
    cfg["SQLALCHEMY_DATABASE_URI"] = url
    # Database errors must not carry the bound values (a citizen's message, their number)
    # into logs and error reports (inbox/logredact.py).
    engine_options = dict(cfg.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    engine_options["hide_parameters"] = True
    if url.startswith("postgresql"):
        # After the database was away, a pooled connection may be dead: one that sat idle is
        # tested on checkout (inbox/db.py `_ping_if_idle`, cheaper than pool_pre_ping, which
        # tests every checkout). An unreachable server fails fast (503).
        engine_options.setdefault("connect_args", {"connect_timeout": 3})
        engine_options.setdefault("pool_size", cfg["DATABASE_POOL_SIZE"])
        engine_options.setdefault("max_overflow", cfg["DATABASE_MAX_OVERFLOW"])
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options
    if cfg["SESSION_COOKIE_SECURE"] is None:
        cfg["SESSION_COOKIE_SECURE"] = not embedded
    if cfg["DEMO_PAGE"] is None:
        cfg["DEMO_PAGE"] = embedded
    cfg["REMEMBER_COOKIE_SECURE"] = cfg["SESSION_COOKIE_SECURE"]
    cfg["REMEMBER_COOKIE_HTTPONLY"] = True
    cfg["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=cfg["SESSION_LIFETIME_MINUTES"])
    cfg["BABEL_DEFAULT_LOCALE"] = cfg["DEFAULT_LOCALE"]
    cfg["BABEL_DEFAULT_TIMEZONE"] = cfg["DEFAULT_TIMEZONE"]


def _embedded_secret(instance: Path) -> str:
    """A per-installation key kept in the instance folder, so sessions survive restarts."""
    key_file = instance / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def validate(cfg: dict[str, Any]) -> None:
    if cfg["MODE"] not in ("embedded", "production"):
        raise ConfigError(f"MODE must be 'embedded' or 'production', not {cfg['MODE']!r}")
    for key, kind in _TYPES.items():
        if not isinstance(cfg.get(key), kind) or isinstance(cfg.get(key), bool):
            raise ConfigError(f"{key} has an invalid value {cfg.get(key)!r}")
    for key in ("SECRET_KEY", "DATABASE_URL", "BROKER_URL"):
        if not cfg.get(key):
            raise ConfigError(
                f"{key} is required in production mode "
                f"(set it in config.toml or as {ENV_PREFIX}_{key})"
            )
    if cfg["MODE"] == "production":
        if len(cfg["SECRET_KEY"]) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters in production")
        if not str(cfg["DATABASE_URL"]).startswith("postgresql"):
            raise ConfigError("DATABASE_URL must be a postgresql:// URL in production mode")
    if cfg["DATABASE_POOL_SIZE"] < 1 or cfg["DATABASE_MAX_OVERFLOW"] < 0:
        raise ConfigError("DATABASE_POOL_SIZE must be 1 or more, DATABASE_MAX_OVERFLOW 0 or more")
    if cfg["DEFAULT_LOCALE"] not in cfg["LANGUAGES"]:
        raise ConfigError(f"DEFAULT_LOCALE {cfg['DEFAULT_LOCALE']!r} is not in LANGUAGES")


def secret_from_env(name: str | None) -> str | None:
    """Resolve a secret reference (the name of an environment variable) to its value."""
    if not name:
        return None
    return os.environ.get(name)
