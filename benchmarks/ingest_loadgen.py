"""The one load generator of benchmarks/ingest_bench.py: signed Twilio SMS webhooks over HTTP/1.1
keep-alive connections to 127.0.0.1, from asyncio protocols in a process of its own.

Every request is built (form, X-Twilio-Signature, bytes on the wire) before the clock starts, so
the generator only writes prepared bytes and reads status lines. Three modes:

- ``max``: closed loop, N connections each sending its next request as soon as the last one is
  answered, for a fixed time; reports answers per second (2xx, 5xx, other) after a warm-up.
- ``rate``: open loop, a request every 1/rate s whatever the server does; latency is counted
  from the moment a request was due (so a slow server is not allowed to slow the schedule).
- ``burst``: closed loop over a fixed list of messages, each retried (after 1 s) until it gets
  a 2xx, as Twilio retries; reports when the last one was accepted.

Run by the harness as ``python ingest_loadgen.py < spec.json > result.json``.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "be" * 16  # any well-formed SID: the bench number's account
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_CONN_CLOSE = re.compile(rb"\r\nconnection:\s*close", re.IGNORECASE)

BODIES = (
    "Hei! Vi har ikke hatt vann i Storgata siden i morges. Når kommer det tilbake?",
    "Er vannet trygt å drikke nå, eller må vi fortsatt koke det?",
    "Takk for varselet. Gjelder kokevarselet også for Nedre Bakken?",
    "Vi har en baby i huset, hvor kan vi hente rent vann?",
)


def message_sid(phase: int, seq: int, run: int = 0) -> str:
    """A unique, well-formed MessageSid: SM + phase (2 hex) + run (6 hex) + sequence (24 hex).
    The harness counts a phase's rows in the database by the prefix ``sid_prefix(phase, run)``."""
    return f"SM{phase:02x}{run:06x}{seq:024x}"


def sid_prefix(phase: int, run: int = 0) -> str:
    return f"SM{phase:02x}{run:06x}"


def sender(seq: int, senders: int) -> str:
    """The citizen's number: one of `senders` Norwegian mobile numbers."""
    return f"+474{seq % senders:07d}"


def inbound_form(sid: str, from_: str, to: str, body: str) -> dict[str, str]:
    """The form Twilio posts for an inbound SMS (the fields of its documented webhook)."""
    return {
        "ToCountry": "NO",
        "ToState": "",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "NO",
        "To": to,
        "ToZip": "",
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": from_,
        "ApiVersion": "2010-04-01",
    }


def signed_request(url: str, path: str, host: str, form: dict[str, str], token: str) -> bytes:
    """The HTTP/1.1 request, with X-Twilio-Signature as Twilio computes it over `url` (the
    public URL of the webhook, PUBLIC_BASE_URL + path) and the form."""
    signature = RequestValidator(token).compute_signature(url, form)
    body = urlencode(form).encode()
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "User-Agent: TwilioProxy/1.1\r\n"
        "Accept: */*\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Twilio-Signature: {signature}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode() + body


def build_requests(spec: dict[str, Any], count: int) -> list[bytes]:
    host = f"{spec['host']}:{spec['port']}"
    url = spec["public_base_url"].rstrip("/") + spec["path"]
    out = []
    for seq in range(count):
        sid = message_sid(spec["phase"], seq, spec.get("run", 0))
        form = inbound_form(
            sid,
            sender(seq, spec.get("senders", 5000)),
            spec.get("to", "+4740000000"),
            f"{BODIES[seq % len(BODIES)]} ({seq})",
        )
        out.append(signed_request(url, spec["path"], host, form, spec["token"]))
    return out


class _Conn(asyncio.Protocol):
    """One keep-alive connection; one request in flight at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False
        self.got_bytes = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[: end + 2])
        match = _CONTENT_LENGTH.search(head)
        length = int(match.group(1)) if match else 0
        if len(self.buf) < end + 4 + length:
            return
        status = int(self.buf[9:12])
        del self.buf[: end + 4 + length]
        if _CONN_CLOSE.search(head):
            self.close()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def send(self, raw: bytes) -> asyncio.Future[int]:
        assert self.transport is not None
        self.got_bytes = False
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return self.waiter


@dataclass
class _Pool:
    host: str
    port: int
    size: int
    timeout: float
    idle: list[_Conn] = field(default_factory=list)
    sem: asyncio.Semaphore | None = None

    async def request(self, raw: bytes, due: float | None = None) -> int:
        """Status code, or -1 for a timeout and -2 for a connection error. The timeout runs
        from `due` (when the request should have been sent; default now), so a request that
        waited that long for a free connection is not sent at all. A keep-alive connection
        the server closed before it answered anything is replaced once."""
        deadline = (time.perf_counter() if due is None else due) + self.timeout
        if self.sem is None:
            self.sem = asyncio.Semaphore(self.size)
        async with self.sem:
            for attempt in (0, 1):
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    return -1
                conn = self._idle_conn()
                fresh = conn is None
                try:
                    if conn is None:
                        _, conn = await asyncio.get_running_loop().create_connection(
                            _Conn, self.host, self.port
                        )
                    status = await asyncio.wait_for(conn.send(raw), remaining)
                except TimeoutError:
                    if conn is not None:
                        conn.close()
                    return -1
                except OSError:
                    if conn is not None and not fresh and not conn.got_bytes and attempt == 0:
                        continue  # a stale keep-alive connection: nothing was answered
                    return -2
                if not conn.closed:
                    self.idle.append(conn)
                return status
        return -2

    def _idle_conn(self) -> _Conn | None:
        """The most recently used open connection; those the server closed (gunicorn ends
        idle keep-alive connections after 2 s) are dropped."""
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
        return None

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()


def _pct(samples: list[float], p: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _tally(statuses: list[int]) -> dict[str, int]:
    return {
        "ok": sum(1 for s in statuses if 200 <= s < 300),
        "5xx": sum(1 for s in statuses if 500 <= s < 600),
        "timeouts": statuses.count(-1),
        "conn_errors": statuses.count(-2),
        "other": sum(1 for s in statuses if 0 <= s < 200 or 300 <= s < 500),
    }


async def run_max(spec: dict[str, Any], reqs: list[bytes]) -> dict[str, Any]:
    pool = _Pool(spec["host"], spec["port"], spec["connections"], spec["timeout"])
    seconds, warmup = spec["seconds"], spec.get("warmup", 1.0)
    started_at, start, cpu = time.time(), time.perf_counter(), time.process_time()
    stop, counted_from = start + warmup + seconds, start + warmup
    counted: list[int] = []
    answered = [0]  # 2xx answers, warm-up included (what the servers' CPU time was spent on)
    it = iter(reqs)

    async def client() -> None:
        for raw in it:
            if time.perf_counter() >= stop:
                return
            status = await pool.request(raw)
            answered[0] += 200 <= status < 300
            if time.perf_counter() >= counted_from:
                counted.append(status)

    await asyncio.gather(*(client() for _ in range(spec["connections"])))
    elapsed = min(time.perf_counter(), stop) - counted_from
    pool.close()
    tally = _tally(counted)
    return {
        **tally,
        "sent": len(counted),
        "accepted_all": answered[0],
        "seconds": elapsed,
        "accepted_per_s": tally["ok"] / elapsed if elapsed > 0 else 0.0,
        "exhausted": time.perf_counter() < stop,
        "started_at": started_at,
        # The generator's own CPU time over its wall time: near 1.0 means it was the limit.
        "generator_busy": (time.process_time() - cpu) / (time.perf_counter() - start),
    }


async def run_rate(spec: dict[str, Any], reqs: list[bytes]) -> dict[str, Any]:
    pool = _Pool(spec["host"], spec["port"], spec["connections"], spec["timeout"])
    interval = 1.0 / spec["rate"]
    latencies: list[float] = []
    statuses: list[int] = []
    started_at, start = time.time(), time.perf_counter()

    async def one(raw: bytes, due: float) -> None:
        status = await pool.request(raw, due)
        statuses.append(status)
        # A timed-out request counts as taking the whole timeout (it took at least that).
        latencies.append(time.perf_counter() - due if status != -1 else spec["timeout"])

    tasks = []
    for i, raw in enumerate(reqs):
        due = start + i * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(raw, due)))
    await asyncio.gather(*tasks)
    pool.close()
    ms = [x * 1000 for x in latencies]
    return {
        **_tally(statuses),
        "sent": len(reqs),
        "offered_per_s": spec["rate"],
        "p50_ms": _pct(ms, 50),
        "p99_ms": _pct(ms, 99),
        "max_ms": max(ms) if ms else None,
        "seconds": time.perf_counter() - start,
        "started_at": started_at,
    }


async def run_burst(spec: dict[str, Any], reqs: list[bytes]) -> dict[str, Any]:
    pool = _Pool(spec["host"], spec["port"], spec["connections"], spec["timeout"])
    pending = list(reversed(range(len(reqs))))
    retries: list[int] = []
    failures: list[int] = []
    started_at, start = time.time(), time.perf_counter()
    deadline = start + spec["give_up_seconds"]

    async def client() -> None:
        while pending and time.perf_counter() < deadline:
            i = pending.pop()
            status = await pool.request(reqs[i])
            if not 200 <= status < 300:
                retries.append(status)
                if 400 <= status < 500:
                    failures.append(status)  # refused: retrying will not help
                    continue
                await asyncio.sleep(1.0)
                pending.append(i)

    await asyncio.gather(*(client() for _ in range(spec["connections"])))
    pool.close()
    return {
        "sent": len(reqs),
        "accepted_seconds": time.perf_counter() - start,
        "retries": _tally(retries),
        "refused": len(failures),
        "unsent": len(pending),
        "started_at": started_at,
    }


MODES = {"max": run_max, "rate": run_rate, "burst": run_burst}


def main() -> None:
    spec = json.load(sys.stdin)
    reqs = build_requests(spec, spec["count"])
    result = asyncio.run(MODES[spec["mode"]](spec, reqs))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
