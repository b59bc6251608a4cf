"""The pure parts of the ingest benchmark (benchmarks/ingest_bench.py): the signed requests its load
generator sends, and the results file it writes. The timed run itself is not a test."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import parse_qsl

from twilio.request_validator import RequestValidator

from channels.twilio_sms.services import E164_RE, SID_RE
from tests.sms_support import PUBLIC, sign, sms_setup

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import ingest_loadgen as gen  # noqa: E402
import ingest_report as report  # noqa: E402

TOKEN = "0123456789abcdef0123456789abcdef"


def _parse(raw: bytes) -> tuple[str, dict[str, str], dict[str, str]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    request_line, *header_lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    assert int(headers["Content-Length"]) == len(body)
    return request_line.split()[1], headers, dict(parse_qsl(body.decode(), keep_blank_values=True))


def _spec(**extra: object) -> dict[str, object]:
    return {
        "host": "127.0.0.1",
        "port": 8123,
        "path": "/webhooks/twilio/7/sms",
        "public_base_url": "http://127.0.0.1:8123",
        "token": TOKEN,
        "phase": 0x41,
        **extra,
    }


def test_generated_webhooks_carry_the_signature_twilio_would_send():
    reqs = gen.build_requests(_spec(senders=3), 50)
    sids = set()
    for raw in reqs:
        path, headers, form = _parse(raw)
        url = "http://127.0.0.1:8123" + path
        signature = headers["X-Twilio-Signature"]
        assert RequestValidator(TOKEN).validate(url, form, signature)
        assert signature == sign(url, form, TOKEN)  # the suite's independent implementation
        assert not RequestValidator("another token").validate(url, form, signature)
        assert SID_RE.match(form["MessageSid"]) and E164_RE.match(form["From"])
        assert form["MessageSid"].startswith(gen.sid_prefix(0x41))
        sids.add(form["MessageSid"])
    assert len(sids) == 50  # unique MessageSids: no request is a retry of another
    assert len({_parse(raw)[2]["From"] for raw in reqs}) == 3


def test_the_app_accepts_the_generated_webhooks_and_refuses_them_signed_otherwise(
    app, factory, monkeypatch
):
    with sms_setup(app, factory, monkeypatch) as sms:
        spec = _spec(path=sms.path(), public_base_url=PUBLIC, token=sms.token, phase=0x20)
        path, headers, form = _parse(gen.build_requests(spec, 1)[0])
        resp = sms.client.post(
            path, data=form, headers={"X-Twilio-Signature": headers["X-Twilio-Signature"]}
        )
        assert resp.status_code == 200
        assert b"<Response></Response>" in resp.data
        # The same request signed with another token (or for another URL) is refused.
        for wrong in ({"token": TOKEN}, {"public_base_url": "http://127.0.0.1:1"}):
            path, headers, form = _parse(gen.build_requests({**spec, **wrong, "phase": 0x21}, 1)[0])
            resp = sms.client.post(
                path, data=form, headers={"X-Twilio-Signature": headers["X-Twilio-Signature"]}
            )
            assert resp.status_code == 403


def _round(app_max: float, *, rows: int = 100, distinct: int = 100) -> report.Round:
    def max_run(per_s: float, errors: int = 0) -> dict[str, object]:
        return {"accepted_per_s": per_s, "5xx": errors, "sent": 500, "generator_busy": 0.2}

    def rate_run(p50: float, p99: float) -> dict[str, object]:
        return {"p50_ms": p50, "p99_ms": p99, "timeouts": 0, "conn_errors": 0, "5xx": 0}

    return report.Round(
        ceiling_max=max_run(1000.0),
        app_max=max_run(app_max),
        ceiling_rate=rate_run(2.0, 12.0),
        app_rate=rate_run(16500.0, 29900.0),
        burst={
            "expected": 100,
            "rows": rows,
            "distinct": distinct,
            "msgs_per_s": 25.0,
            "exact": rows == distinct == 100,
            "retries": {"5xx": 0},
        },
        emb_max=max_run(46.0, errors=3),
    )


class _Args:
    label = "before"
    rate, connections, timeout = 500, 32, 30.0
    max_seconds, rate_seconds, burst, senders = 5.0, 5.0, 100, 5000


META = {
    "started": "2026-12-02 16:00 UTC",
    "command": "python benchmarks/ingest_bench.py --burst 100",
    "cores": 2,
    "cpu": "AMD EPYC",
    "load_before": (3.5, 2.0, 1.0),
    "load_after": (4.0, 3.0, 2.0),
    "postgres": "15.20",
    "redis": "7.0.15",
    "gunicorn": "gthread, 2 workers x 16 threads",
    "worker_args": "--concurrency=2",
    "commit": "abc1234",
    "minutes": 4.2,
    "memory": {"web_kib": {1: 100_000, 2: 100_000}, "worker_kib": {3: 150_000}},
}


def _render(rounds: list[report.Round], label: str = "before") -> str:
    args = _Args()
    args.label = label
    return report.render(META, args, rounds, report.summarise(rounds), "", Path("/src"))


def test_results_are_ratios_to_the_ceiling_with_the_goals_and_the_machine():
    text = _render([_round(50.0), _round(40.0), _round(60.0)])
    # Medians over the rounds, and the ratio to the ceiling of the same run.
    assert "| signed Twilio webhooks accepted/s | 50/s | bare Flask 1,000/s | 5.0 % |" in text
    assert "≥ 40 % of the ceiling | **missed** |" in text
    assert "p50 16.5 s, p99 29.9 s" in text and "p99 ≤ 25 ms" in text
    assert "25 msg/s; exactly 100 rows, no twins, in every round" in text
    assert "46/s, 9 × 5xx of 1,500 answers" in text and "≥ 300/s, zero 5xx" in text
    assert "342 MiB (358 MB" in text and "≤ 300 MB | **missed** |" in text
    assert "2 cores (AMD EPYC), load average 3.50 / 2.00 / 1.00 before" in text
    assert (
        "2026-12-02 16:00 UTC" in text and "`python benchmarks/ingest_bench.py --burst 100`" in text
    )
    assert text.count("\n| 1 |") == 1 and "\n| 3 |" in text


def test_a_lost_or_doubled_message_is_shown_as_a_wrong_count():
    text = _render([_round(50.0), _round(50.0, rows=101, distinct=100)])
    assert "**COUNT WRONG** (round 2: 101 rows, 100 distinct)" in text
    assert "≥ 500 msg/s, ≥ 10× the peer (peer not measured) | **missed** |" in text


def test_a_new_run_replaces_its_own_section_and_keeps_the_others(tmp_path):
    path = tmp_path / "RESULTS-ingest.md"
    report.write_section(path, "before", _render([_round(50.0)]))
    report.write_section(path, "after", _render([_round(900.0)], label="after"))
    report.write_section(path, "after", _render([_round(800.0)], label="after"))
    content = path.read_text()
    assert content.startswith(report.HEADER)
    assert content.count("## before:") == 1 and content.count("## after:") == 1
    assert "| 50/s |" in content and "| 800/s |" in content and "| 900/s |" not in content
    assert content.index("## before:") < content.index("## after:")


def test_hot_spots_from_py_spy_collapsed_stacks():
    stacks = "\n".join(
        [
            "run (gunicorn/workers/gthread.py:10);inbound (/src/channels/twilio_sms/views.py:58);"
            "receive (/src/channels/twilio_sms/services.py:90);"
            "execute (/venv/lib/python3.11/site-packages/sqlalchemy/orm/session.py:1) 70",
            "run (gunicorn/workers/gthread.py:10);inbound (/src/channels/twilio_sms/views.py:60);"
            "parse (/venv/lib/python3.11/site-packages/werkzeug/formparser.py:5) 30",
        ]
    )
    own, inclusive, total = report.hot_spots(stacks, Path("/src"))
    assert total == 100
    assert own == [
        (0.7, "execute (sqlalchemy/orm/session.py)"),
        (0.3, "parse (werkzeug/formparser.py)"),
    ]
    assert inclusive[0] == (1.0, "inbound (channels/twilio_sms/views.py)")
    assert inclusive[1] == (0.7, "receive (channels/twilio_sms/services.py)")
