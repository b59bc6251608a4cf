"""SMS background work: downloading MMS media after the message itself is safe."""

from __future__ import annotations

from celery import shared_task

from channels.twilio_sms import media

MAX_RETRIES = 8


@shared_task(name="servicetorg.inbound.sms_media", bind=True, max_retries=MAX_RETRIES)
def sms_media(self, message_id: int) -> int:  # type: ignore[no-untyped-def]
    """Download pending media of one message; retried with back-off while Twilio fails."""
    final = self.request.retries >= MAX_RETRIES
    stored, retry = media.fetch_pending(message_id, give_up=final)
    if retry and not final:
        raise self.retry(countdown=min(30 * 2**self.request.retries, 3600))
    return stored
