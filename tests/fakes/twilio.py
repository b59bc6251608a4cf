"""A fake Twilio REST API over real HTTP, with Twilio's documented JSON shapes.

Messages.json create and list (with paging fields), a message's Media.json list, media
content (basic auth required), and error bodies {code, message, more_info, status}.
"""

from __future__ import annotations

import base64
import re
import secrets
from datetime import UTC, datetime
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
        self.route("POST", API + r"/Messages\.json", self._create)
        self.route("GET", API + r"/Messages\.json", self._list)
        self.route("GET", API + r"/Messages/(?P<sid>MM\w+|SM\w+)/Media\.json", self._media_list)
        self.route("GET", API + r"/Messages/(?P<sid>\w+)/Media/(?P<me>ME\w+)", self._content)

    # --- what tests look at -----------------------------------------------------------------

    def sent(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["direction"] == "outbound-api"]

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

    def _record(self, sid, from_, to, body, direction, status, date_sent=None) -> dict[str, Any]:
        now = datetime.now(UTC)
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": rfc2822(now),
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
        record = self._record(
            new_sid("SM"), form.get("From"), to, form["Body"], "outbound-api", "queued"
        )
        record["messaging_service_sid"] = form.get("MessagingServiceSid")
        record["status_callback"] = form.get("StatusCallback")  # not in Twilio's JSON; for tests
        self.messages.append(record)
        public = {k: v for k, v in record.items() if k != "status_callback"}
        return json_response(public, status=201)

    def _list(self, request: Request, match: re.Match[str]) -> Response:
        if (denied := self._guard(request, match)) is not None:
            return denied
        args = request.args
        items = list(reversed(self.messages))
        if args.get("To"):
            items = [m for m in items if m["to"] == args["To"]]
        if args.get("DateSent>"):
            after = datetime.strptime(args["DateSent>"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            items = [m for m in items if _parse2822(m["date_sent"]) >= after]
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
