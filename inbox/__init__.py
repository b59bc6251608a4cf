"""Servicetorg: the omnichannel inbox for municipalities (Flask application factory)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. Reads configuration and binds extensions; opens no connection."""
    from inbox import config, logredact, security, web
    from inbox import db as dbmod
    from inbox.extensions import babel, csrf, db, login_manager
    from inbox.i18n import compile_catalogues, select_locale
    from inbox.services import account_cache
    from inbox.untrusted import BoundedJSONProvider
    from workers.celery_app import celery_init_app

    instance = (test_config or {}).get("INSTANCE_PATH") or os.environ.get(
        "SERVICETORG_INSTANCE_PATH", str(ROOT / "instance")
    )
    app = Flask(
        __name__,
        instance_path=str(instance),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    config.load_config(app, test_config)
    logredact.install()
    app.json = BoundedJSONProvider(app)  # request.get_json() bounded in depth everywhere
    security.init_app(app)

    dbmod.install_listeners()
    account_cache.install()
    db.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compile_catalogues(app))
    babel.init_app(app, locale_selector=select_locale)

    celery_init_app(app)
    web.register(app)
    return app
