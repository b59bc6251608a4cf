"""Sending replies through their channel."""

from __future__ import annotations

from celery import shared_task

from inbox.services import outbound


@shared_task(name="servicetorg.outbound.send_message", bind=True, max_retries=10)
def send_message(self, message_id: int) -> str:  # type: ignore[no-untyped-def]
    result, retry_in = outbound.send(message_id)
    if retry_in is not None:
        raise self.retry(countdown=retry_in)
    return result
