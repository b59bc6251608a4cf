"""SMS through Twilio: inbound webhooks, replies with status callbacks, pull, STOP/START.

`limits(body)` tells the reply box how many SMS segments a text costs; see docs/sms.md.
"""

from __future__ import annotations

from channels.twilio_sms.segments import MAX_BODY_CHARS, SegmentInfo, limits

__all__ = ["MAX_BODY_CHARS", "SegmentInfo", "limits"]
