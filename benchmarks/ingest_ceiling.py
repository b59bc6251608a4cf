"""The ceiling of benchmarks/ingest_bench.py: a bare Flask app that parses the same Twilio form and
answers the same empty TwiML as the inbox's webhook, run by the same gunicorn settings.

    gunicorn --pythonpath benchmarks ingest_ceiling:app
"""

from __future__ import annotations

from flask import Flask, Response, abort, request

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

app = Flask(__name__)


@app.post("/webhooks/twilio/<int:account_id>/sms")
def inbound(account_id: int) -> Response:
    form = request.form
    if not form.get("MessageSid") or not form.get("From"):
        abort(400)
    return Response(EMPTY_TWIML, status=200, mimetype="text/xml")


@app.get("/healthz")
def healthz() -> str:
    return "ok"
