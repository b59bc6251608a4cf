"""Entry point for `celery -A workers.worker_app worker|beat`.

This is the one module that builds the Flask app at import: Celery's command line needs an
importable app object.
"""

from inbox import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
