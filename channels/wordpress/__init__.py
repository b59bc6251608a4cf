"""Website comments: WordPress REST API pull/reply, and a signed JSON webhook for other CMSs.

One channel kind (ChannelKind.WEB_COMMENTS); `ChannelAccount.config["source"]` says which:
"wordpress" (default) or "webhook". See docs/web-comments.md.
"""
