"""What Facebook and Instagram share: both reach the same Meta app and Graph API.

The webhook signature and handshake (webhook.py), the Graph client (graph.py), payload shape
checks (payload.py), the expired-token alert (tokens.py), the messaging window and Send API
(messaging.py), comment edits, removals and reply targets (comments.py), cursor pulling
(polling.py) and attachment downloads (media.py). channels/facebook and channels/instagram
are built from these.
"""
