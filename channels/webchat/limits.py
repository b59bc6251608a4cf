"""Rate limits for the public chat API, per visitor token and per IP address, on the
installation's limiter (inbox/ratelimit.py)."""

from __future__ import annotations

import hashlib

from flask import request

from inbox.ratelimit import cfg, client_ip, limiter

_ip = client_ip


def token_key() -> str:
    token = request.headers.get("X-Chat-Token", "")
    # Never keep the bearer token itself in the limiter's storage.
    return "t:" + hashlib.sha256(token.encode()).hexdigest()[:32] if token else "ip:" + _ip()


post_per_token = limiter.limit(cfg("WEBCHAT_LIMIT_POST_PER_TOKEN"), key_func=token_key)
# Shared by every write endpoint: one address cannot spread its writes to go unnoticed.
post_per_ip = limiter.shared_limit(
    cfg("WEBCHAT_LIMIT_POST_PER_IP"), scope="webchat-post-ip", key_func=_ip
)
read_per_token = limiter.limit(cfg("WEBCHAT_LIMIT_READ_PER_TOKEN"), key_func=token_key)
new_visitor_per_ip = limiter.limit(cfg("WEBCHAT_LIMIT_NEW_VISITOR_PER_IP"), key_func=_ip)
