"""A fake Twilio REST API over real HTTP, with Twilio's documented JSON shapes.

Messages.json create and list (with paging fields), a message's Media.json list, media
content (basic auth required), and error bodies {code, message, more_info, status}.

List filters are the ones the twilio library sends: To, From, DateSent, DateSent< and
DateSent> (the last two mean on-or-before and on-or-after). As Twilio documents them, only the
date part of a DateSent value counts, and a message without a date_sent (created, not sent yet)
matches no DateSent filter. Lists are sorted by date_sent, newest first; unsent messages come
first (Twilio does not document where it puts them).

A created message is "queued" ("accepted" with a Messaging Service) with no date_sent, like
Twilio's answer to a create; `advance()` moves it on as Twilio would. `lose_next_answer()`
makes Twilio create the next message but the answer never reach the client.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import socket
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from tests.fakes.server import FakeProvider, json_response

API = "/2010-04-01/Accounts/(?P<ac>AC[0-9a-f]{32})"


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def rfc2822(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=False).replace("-0000", "+0000")


class FakeTwilio(FakeProvider):
    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid, self.auth_token = account_sid, auth_token
        self.messages: list[dict[str, Any]] = []  # newest last; listed newest first
        self.media: dict[str, list[dict[str, Any]]] = {}  # message sid -> media records
        self.media_bytes: dict[str, tuple[str, bytes]] = {}  # media sid -> (type, bytes)
        self.reject: dict[str, tuple[int, int, str]] = {}  # to-number -> (status, code, msg)
        self._lose: list[str] = []  # how the answers to the next creates are lost
        # Called with each created message before the answer goes (or is lost), in the
        # server's thread: e.g. a status callback that beats the answer to the client.
        self.on_create: Callable[[dict[str, Any]], None] | None = None
        self._held = threading.Event()  # set when held answers may go (too late) after all
        # The account's own numbers (IncomingPhoneNumbers), for "test connection".
        self.phone_numbers: list[str] = []
        self.route("GET", API + r"\.json", self._account)
        self.route("GET", API + r"/IncomingPhoneNumbers\.json", self._numbers)
        self.route("POST", API + r"/Messages\.json", self._create)
        self.route("GET", API + r"/Messages\.json", self._list)
        self.route("GET", API + r"/Messages/(?P<sid>MM\w+|SM\w+)/Media\.json", self._media_list)
        self.route("GET", API + r"/Messages/(?P<sid>\w+)/Media/(?P<me>ME\w+)", self._content)

    # --- what tests look at -----------------------------------------------------------------

    def sent(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["direction"] == "outbound-api"]

    def lose_next_answer(self, how: str = "drop", count: int = 1) -> None:
        """Create the next `count` messages, then lose each answer on its way to the client:

        - "drop": close the connection without answering (connection reset after sending);
        - "timeout": answer nothing until the client has given up (its read timeout), or
          until the fake stops;
        - "gateway": a proxy's 502 page instead of Twilio's answer;
        - "garbled": a 200 whose body is not Twilio's JSON (a proxy's page).
        """
        assert how in ("drop", "timeout", "gateway", "garbled")
        self._lose.extend([how] * count)

    def advance(self, sid: str, status: str, error_code: int | None = None) -> dict[str, Any]:
        """Move an outbound message on as Twilio does (sent, delivered, failed...)."""
        record = next(m for m in self.messages if m["sid"] == sid)
        now = rfc2822(datetime.now(UTC))
        record.update(status=status, date_updated=now, error_code=error_code)
        handed_on = status in ("sending", "sent", "delivered", "undelivered", "read")
        if handed_on and not record["date_sent"]:
            record["date_sent"] = now
        return record

    def add_outbound(
        self, from_: str, to: str, body: str, created: datetime, status: str = "delivered"
    ) -> dict[str, Any]:
        """A message Twilio sent earlier on its own account (another system, the console)."""
        sid = new_sid("SM")
        record = self._record(sid, from_, to, body, "outbound-api", status, created, created)
        self.messages.append(record)
        return record

    def stop(self) -> None:
        self._held.set()
        super().stop()

    def add_inbound(
        self,
        from_: str,
        to: str,
        body: str,
        date_sent: datetime | None = None,
        media: list[tuple[str, bytes]] | None = None,
    ) -> dict[str, Any]:
        sid = new_sid("MM" if media else "SM")
        record = self._record(sid, from_, to, body, "inbound", "received", date_sent)
        record["num_media"] = str(len(media or []))
        self.messages.append(record)
        self.media[sid] = []
        for ctype, data in media or []:
            me = new_sid("ME")
            self.media_bytes[me] = (ctype, data)
            self.media[sid].append(
                {
                    "sid": me,
                    "account_sid": self.account_sid,
                    "parent_sid": sid,
                    "content_type": ctype,
                    "date_created": record["date_created"],
                    "date_updated": record["date_created"],
                    "uri": f"{record['uri'].removesuffix('.json')}/Media/{me}.json",
                }
            )
        return record

    def media_url(self, message_sid: str, index: int = 0) -> str:
        return self.url + self.media[message_sid][index]["uri"].removesuffix(".json")

    # --- helpers ------------------------------------------------------------------------------

    def _record(
        self, sid, from_, to, body, direction, status, date_sent=None, created=None
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        created = created or (min(now, date_sent) if date_sent else now)
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": rfc2822(created),
            "date_sent": rfc2822(date_sent or now),
            "date_updated": rfc2822(now),
            "direction": direction,
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": status,
            "subresource_uris": {
                "media": f"{base}/Media.json",
                "feedback": f"{base}/Feedback.json",
            },
            "to": to,
            "uri": f"{base}.json",
        }

    def _authorised(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    @staticmethod
    def error(status: int, code: int, message: str) -> Response:
        return json_response(
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
            status=status,
        )

    def _guard(self, request: Request, match: re.Match[str]) -> Response | None:
        if not self._authorised(request) or match["ac"] != self.account_sid:
            return self.error(401, 20003, "Authenticate")
        return None

    # --- routes -------------------------------------------------------------------------------

    def _account(self, request: Request, match: re.Match[str]) -> Response:
        """GET /2010-04-01/Accounts/{AccountSid}.json: the Account resource (it carries the
        auth token, as Twilio's does: a client must never show or log this answer)."""
        if (err := self._guard(request, match)) is not None:
            return err
        uri = f"/2010-04-01/Accounts/{self.account_sid}"
        return json_response(
            {
                "auth_token": self.auth_token,
                "date_created": rfc2822(datetime(2024, 1, 2, tzinfo=UTC)),
                "date_updated": rfc2822(datetime(2024, 1, 2, tzinfo=UTC)),
                "friendly_name": "Kommunen",
                "owner_account_sid": self.account_sid,
                "sid": self.account_sid,
                "status": "active",
                "subresource_uris": {"incoming_phone_numbers": f"{uri}/IncomingPhoneNumbers.json"},
                "type": "Full",
                "uri": f"{uri}.json",
            }
        )

    def _numbers(self, request: Request, match: re.Match[str]) -> Response:
        """GET .../IncomingPhoneNumbers.json[?PhoneNumber=...]: the account's numbers, paged
        as Twilio's list resources are."""
        if (err := self._guard(request, match)) is not None:
            return err
        wanted = request.args.get("PhoneNumber")
        rows = [
            {
                "account_sid": self.account_sid,
                "phone_number": n,
                "friendly_name": n,
                "sid": "PN" + hashlib.sha256(n.encode()).hexdigest()[:32],
                "capabilities": {"sms": True, "mms": True, "voice": True, "fax": False},
            }
            for n in self.phone_numbers
            if wanted is None or n == wanted
        ]
        uri = f"/2010-04-01/Accounts/{self.account_sid}/IncomingPhoneNumbers.json"
        return json_response(
            {
                "incoming_phone_numbers": rows,
                "end": max(len(rows) - 1, 0),
                "first_page_uri": f"{uri}?PageSize=50&Page=0",
                "next_page_uri": None,
                "page": 0,
                "page_size": 50,
                "previous_page_uri": None,
                "start": 0,
                "uri": f"{uri}?PageSize=50&Page=0",
            }
        )

    def _create(self, request: Request, match: re.Match[str]) -> Response:
        if (denied := self._guard(request, match)) is not None:
            return denied
        form = request.form
        to = form.get("To", "")
        if not form.get("Body"):
            return self.error(400, 21602, "Message body is required.")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return self.error(400, 21603, "A 'From' or 'MessagingServiceSid' is required.")
        if to in self.reject:
            status, code, message = self.reject[to]
            return self.error(status, code, message)
        service = form.get("MessagingServiceSid")
        status = "accepted" if service else "queued"
        record = self._record(
            new_sid("SM"), form.get("From"), to, form["Body"], "outbound-api", status
        )
        record["date_sent"] = None  # not sent yet
        record["messaging_service_sid"] = service
        record["status_callback"] = form.get("StatusCallback")  # not in Twilio's JSON; for tests
        with self._lock:
            self.messages.append(record)
            lose = self._lose.pop(0) if self._lose else None
        if self.on_create is not None:
            self.on_create(record)
        if lose == "drop":
            # Twilio has the message; the connection goes before any answer.
            request.environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
            raise ConnectionAbortedError("answer lost on purpose")
        if lose == "timeout":
            self._held.wait(60)  # the client stops waiting long before
        if lose == "gateway":
            page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
            return Response(page, status=502, mimetype="text/html")
        if lose == "garbled":
            return Response("<html><body>OK</body></html>", status=200, mimetype="text/html")
        public = {k: v for k, v in record.items() if k != "status_callback"}
        return json_response(public, status=201)

    def _list(self, request: Request, match: re.Match[str]) -> Response:
        if (denied := self._guard(request, match)) is not None:
            return denied
        args = request.args
        with self._lock:
            newest_first = list(reversed(self.messages))
        # Sorted by date_sent, newest first; not yet sent (no date_sent) first of all.
        items = sorted(
            newest_first,
            key=lambda m: _parse2822(m["date_sent"]) if m["date_sent"] else _FUTURE,
            reverse=True,
        )
        for name, key in (("To", "to"), ("From", "from")):
            if args.get(name):
                items = [m for m in items if m[key] == args[name]]
        for name, keep in (
            ("DateSent", lambda day, on: day == on),
            ("DateSent<", lambda day, on: day <= on),
            ("DateSent>", lambda day, on: day >= on),
        ):
            if args.get(name):
                on = _day(args[name])
                items = [
                    m
                    for m in items
                    if m["date_sent"] and keep(_parse2822(m["date_sent"]).date(), on)
                ]
        size = min(int(args.get("PageSize", 50)), 1000)
        page = int(args.get("Page", 0))
        chunk = items[page * size : (page + 1) * size]
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        keep = {k: v for k, v in args.items() if k not in ("Page", "PageToken")}

        def uri(p: int) -> str:
            return f"{path}?{urlencode({**keep, 'Page': p, 'PageToken': f'PA{p}'})}"

        more = (page + 1) * size < len(items)
        return json_response(
            {
                "messages": chunk,
                "end": page * size + max(len(chunk) - 1, 0),
                "first_page_uri": f"{path}?{urlencode({**keep, 'Page': 0})}",
                "next_page_uri": uri(page + 1) if more else None,
                "page": page,
                "page_size": size,
                "previous_page_uri": uri(page - 1) if page else None,
                "start": page * size,
                "uri": f"{path}?{urlencode(dict(args))}",
            }
        )

    def _media_list(self, request: Request, match: re.Match[str]) -> Response:
        if (denied := self._guard(request, match)) is not None:
            return denied
        items = self.media.get(match["sid"], [])
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{match['sid']}/Media.json"
        return json_response(
            {
                "media_list": items,
                "end": max(len(items) - 1, 0),
                "first_page_uri": f"{path}?PageSize=50&Page=0",
                "next_page_uri": None,
                "page": 0,
                "page_size": 50,
                "previous_page_uri": None,
                "start": 0,
                "uri": f"{path}?PageSize=50&Page=0",
            }
        )

    def _content(self, request: Request, match: re.Match[str]) -> Response:
        if (denied := self._guard(request, match)) is not None:
            return denied
        if match["me"] not in self.media_bytes:
            return self.error(404, 20404, "The requested resource was not found")
        ctype, data = self.media_bytes[match["me"]]
        return Response(data, status=200, mimetype=ctype)


def _parse2822(value: str) -> datetime:
    from email.utils import parsedate_to_datetime

    return parsedate_to_datetime(value)


_FUTURE = datetime.max.replace(tzinfo=UTC)


def _day(value: str) -> date:
    """The date a DateSent filter names: YYYY-MM-DD, or the date part of the library's
    YYYY-MM-DDTHH:MM:SSZ (Twilio documents the filter at day granularity)."""
    return date.fromisoformat(value[:10])
