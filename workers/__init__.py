"""Celery app and tasks. Tasks take ids and plain data and are idempotent."""
