"""Facebook: Messenger conversations and comments on a page's posts.

A page is connected as two channel accounts with the same external_id (the page id): one of
kind MESSENGER and one of kind FACEBOOK_COMMENTS (see docs/facebook.md).
"""
