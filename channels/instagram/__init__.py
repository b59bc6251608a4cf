"""Instagram: direct messages and comments on an Instagram professional account's media.

The account is linked to a Facebook page and reached through the same Meta app as Facebook
(channels/meta). It is connected as two channel accounts with the same external_id (the
Instagram account id): kind INSTAGRAM for direct messages, INSTAGRAM_COMMENTS for comments
(see docs/instagram.md).
"""
