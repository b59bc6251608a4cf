"""A Twilio REST client for one channel account, pointed at its configured API base."""

from __future__ import annotations

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from channels.twilio_sms.services import account_sid, auth_token
from inbox.models import ChannelAccount

TIMEOUT_SECONDS = 15


def make_client(account: ChannelAccount) -> Client:
    client = Client(
        account_sid(account),
        auth_token(account),
        http_client=TwilioHttpClient(timeout=TIMEOUT_SECONDS),
    )
    base = (account.config or {}).get("api_base_url")
    if base:
        # Another Twilio edge, or a local fake in tests; paging URLs follow it too.
        client.api.base_url = str(base).rstrip("/")
    return client
