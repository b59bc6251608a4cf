"""Results of benchmarks/ingest_bench.py: medians over the rounds, ratios to the ceiling measured
in the same run, the goals of the issue, and the section of benchmarks/RESULTS-ingest.md."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEADER = """# Benchmark results: ingest (signed Twilio webhooks)

How to run, what is measured and how: see the docstring of `benchmarks/ingest_bench.py`.
Each section below is one run, written by the harness; ratios are to the bare Flask ceiling
measured by the same load generator in the same run, which makes runs on a busy machine
comparable with each other.
"""

# The goal column of the issue ("Ingest that survives an SMS storm and a broker outage").
GOALS = {
    "accept": "≥ 40 % of the ceiling",
    "latency": "p99 ≤ 25 ms",
    "e2e": "≥ 500 msg/s, ≥ 10× the peer",
    "embedded": "≥ 300/s, zero 5xx",
    "memory": "≤ 300 MB",
}
MEMORY_GOAL_BYTES = 300e6


@dataclass
class Round:
    ceiling_max: dict[str, Any]
    app_max: dict[str, Any]
    ceiling_rate: dict[str, Any]
    app_rate: dict[str, Any]
    burst: dict[str, Any]
    emb_max: dict[str, Any] | None = None


@dataclass
class Summary:
    ceiling_max: float
    app_max: float
    accept_ratio: float
    ceiling_p50: float | None
    ceiling_p99: float | None
    app_p50: float | None
    app_p99: float | None
    app_rate_lost: int  # timeouts, connection errors and 5xx at the offered rate, all rounds
    e2e: float | None  # msg/s, median of the rounds that completed
    e2e_exact: bool
    emb_max: float | None
    emb_ratio: float | None
    emb_5xx: int
    emb_answers: int


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarise(rounds: list[Round]) -> Summary:
    emb = [r for r in rounds if r.emb_max is not None]
    return Summary(
        ceiling_max=_median([r.ceiling_max["accepted_per_s"] for r in rounds]) or 0.0,
        app_max=_median([r.app_max["accepted_per_s"] for r in rounds]) or 0.0,
        accept_ratio=_median([_ratio(r.app_max, r.ceiling_max) for r in rounds]) or 0.0,
        ceiling_p50=_median([r.ceiling_rate["p50_ms"] for r in rounds]),
        ceiling_p99=_median([r.ceiling_rate["p99_ms"] for r in rounds]),
        app_p50=_median([r.app_rate["p50_ms"] for r in rounds]),
        app_p99=_median([r.app_rate["p99_ms"] for r in rounds]),
        app_rate_lost=sum(_lost(r.app_rate) for r in rounds),
        e2e=_median([r.burst["msgs_per_s"] for r in rounds]),
        e2e_exact=all(r.burst["exact"] for r in rounds),
        emb_max=_median([r.emb_max["accepted_per_s"] for r in emb]),  # type: ignore[index]
        emb_ratio=_median([_ratio(r.emb_max, r.ceiling_max) for r in emb]),  # type: ignore[arg-type]
        emb_5xx=sum(r.emb_max["5xx"] for r in emb),  # type: ignore[index]
        emb_answers=sum(r.emb_max["sent"] for r in emb),  # type: ignore[index]
    )


def _ratio(run: dict[str, Any], ceiling: dict[str, Any]) -> float | None:
    top = ceiling["accepted_per_s"]
    return run["accepted_per_s"] / top if top else None


def _lost(run: dict[str, Any]) -> int:
    return run["timeouts"] + run["conn_errors"] + run["5xx"]


def rate(x: float | None) -> str:
    return "–" if x is None else f"{x:,.0f}"


def ms(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x / 1000:.1f} s" if x >= 1000 else f"{x:.1f} ms"


def pct(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.1f} %"


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "**missed**")


def memory_totals(memory: dict[str, dict[int, int]]) -> tuple[int, int]:
    """Bytes of PSS: the web workers, the Celery worker (its main process and pool)."""
    return sum(memory["web_kib"].values()) * 1024, sum(memory["worker_kib"].values()) * 1024


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def render(
    meta: dict[str, Any], args: Any, rounds: list[Round], s: Summary, stacks: str, root: Path
) -> str:
    web, worker = memory_totals(meta["memory"])
    n_rounds = len(rounds)
    lb, la = meta["load_before"], meta["load_after"]
    lines = [
        f"## {args.label}: {meta['started']}",
        "",
        f"Command: `{meta['command']}`",
        "",
        f"Machine: {meta['cores']} cores ({meta['cpu']}), load average "
        f"{lb[0]:.2f} / {lb[1]:.2f} / {lb[2]:.2f} before and {la[0]:.2f} / {la[1]:.2f} / "
        f"{la[2]:.2f} after (1 / 5 / 15 min; other engineers' tests share the machine). "
        f"PostgreSQL {meta['postgres']}, Redis {meta['redis']}, gunicorn {meta['gunicorn']}, "
        f"Celery worker `{meta['worker_args']}`. Code: {meta['commit']}. "
        f"The whole run took {meta['minutes']:.1f} min.",
        "",
        f"Medians of {n_rounds} rounds; each round measures the ceiling and the app back to "
        f"back, alternating which goes first. Max rate: {args.connections} keep-alive "
        f"connections, closed loop, {args.max_seconds:g} s after 1 s of warm-up. Latency: "
        f"{args.rate}/s offered open loop for {args.rate_seconds:g} s, counted from when each "
        f"request was due, timeout {args.timeout:g} s. Burst: {args.burst:,} messages from "
        f"{args.senders:,} numbers over {args.connections} connections, retried on 5xx or a "
        "timeout as Twilio does. The generator (one process) was busy "
        f"{pct(_median([r.ceiling_max.get('generator_busy') for r in rounds]))} of one core "
        "during the ceiling's max-rate runs (median).",
        "",
        "| measure | this run | ceiling, same run | ratio to the ceiling | goal (issue 11) | |",
        "|---|---|---|---|---|---|",
        f"| signed Twilio webhooks accepted/s | {rate(s.app_max)}/s | bare Flask "
        f"{rate(s.ceiling_max)}/s | {pct(s.accept_ratio)} | {GOALS['accept']} | "
        f"{verdict(s.accept_ratio >= 0.40)} |",
        f"| latency at {args.rate}/s offered | p50 {ms(s.app_p50)}, p99 {ms(s.app_p99)}"
        f"{_lost_note(s.app_rate_lost, args.timeout)} | bare Flask p50 {ms(s.ceiling_p50)}, "
        f"p99 {ms(s.ceiling_p99)} | p99 ×{_times(s.app_p99, s.ceiling_p99)} | "
        f"{GOALS['latency']} | {verdict(None if s.app_p99 is None else s.app_p99 <= 25)} |",
        f"| end to end, {args.burst:,} burst → rows in the database | {rate(s.e2e)} msg/s; "
        f"{_exact_note(rounds)} | bare Flask {rate(s.ceiling_max)} req/s | "
        f"{pct(s.e2e / s.ceiling_max if s.e2e and s.ceiling_max else None)} | {GOALS['e2e']} "
        f"(peer not measured) | {verdict(bool(s.e2e and s.e2e >= 500 and s.e2e_exact))} |",
    ]
    if s.emb_max is not None:
        lines.append(
            f"| embedded mode (SQLite), accepted/s | {rate(s.emb_max)}/s, {s.emb_5xx} × 5xx "
            f"of {s.emb_answers:,} answers | bare Flask {rate(s.ceiling_max)}/s | "
            f"{pct(s.emb_ratio)} | {GOALS['embedded']} | "
            f"{verdict(s.emb_max >= 300 and s.emb_5xx == 0)} |"
        )
    lines += [
        f"| web ({len(meta['memory']['web_kib'])} workers) + worker memory, PSS after the run | "
        f"{mib(web + worker)} ({(web + worker) / 1e6:,.0f} MB: web {mib(web)}, worker "
        f"{mib(worker)} in {len(meta['memory']['worker_kib'])} processes) | | | "
        f"{GOALS['memory']} | {verdict(web + worker <= MEMORY_GOAL_BYTES)} |",
        "",
        "Per round (accepted/s; latency p50 / p99 at the offered rate; burst msg/s from the first "
        "request until the last row, rows / distinct MessageSids; drain = seconds the app "
        "needed afterwards to work off its backlog):",
        "",
        "| round | ceiling max | app max | ratio | ceiling p50 / p99 | app p50 / p99 | app "
        "lost at rate | drain | burst msg/s | burst rows / distinct | burst retries | "
        "embedded max | embedded 5xx |",
        "|---|---:|---:|---:|---|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for i, r in enumerate(rounds, 1):
        e = r.emb_max
        b = r.burst
        retries = sum(b["retries"].values())
        lines.append(
            f"| {i} | {rate(r.ceiling_max['accepted_per_s'])} | "
            f"{rate(r.app_max['accepted_per_s'])} | {pct(_ratio(r.app_max, r.ceiling_max))} | "
            f"{ms(r.ceiling_rate['p50_ms'])} / {ms(r.ceiling_rate['p99_ms'])} | "
            f"{ms(r.app_rate['p50_ms'])} / {ms(r.app_rate['p99_ms'])} | {_lost(r.app_rate)} | "
            f"{r.app_rate.get('drain_s', 0):.0f} s | {rate(b['msgs_per_s'])} | "
            f"{b['rows']:,} / {b['distinct']:,} of {b['expected']:,} | {retries} | "
            f"{rate(e['accepted_per_s']) if e else '–'} | {e['5xx'] if e else '–'} |"
        )
    lines += ["", *render_cpu(rounds)]
    if stacks:
        lines += ["", *render_profile(stacks, root)]
    return "\n".join(lines) + "\n"


def _lost_note(lost: int, timeout: float) -> str:
    return f" ({lost:,} timed out at {timeout:g} s or failed)" if lost else ""


def _times(x: float | None, y: float | None) -> str:
    return f"{x / y:,.0f}" if x is not None and y else "–"


def _exact_note(rounds: list[Round]) -> str:
    exact = [r.burst["exact"] for r in rounds]
    if all(exact):
        return f"exactly {rounds[0].burst['expected']:,} rows, no twins, in every round"
    bad = [
        f"round {i}: {r.burst['rows']:,} rows, {r.burst['distinct']:,} distinct"
        + (f", incomplete after {given:g} s" if (given := r.burst.get("gave_up_after_s")) else "")
        for i, r in enumerate(rounds, 1)
        if not r.burst["exact"]
    ]
    return "**COUNT WRONG** (" + "; ".join(bad) + ")"


_LINE_NO = re.compile(r":\d+\)$")


def _frame(frame: str, root: Path) -> str:
    frame = _LINE_NO.sub(")", frame.strip())
    frame = frame.replace(str(root) + "/", "")
    return re.sub(r"\(\S*/site-packages/", "(", frame)


def hot_spots(
    stacks: str, root: Path, top: int = 5
) -> tuple[list[tuple[float, str]], list[tuple[float, str]], int]:
    """From py-spy's raw (collapsed) output: the functions with the most samples on top of the
    stack (self time), and the project's own functions with the most samples anywhere in the
    stack (inclusive time), as shares of all samples."""
    own, inclusive, total = Counter[str](), Counter[str](), 0
    for line in stacks.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f, root) for f in stack.split(";")]
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            if re.search(r"\((inbox|channels|workers|archiving)/", frame):
                inclusive[frame] += n
    if not total:
        return [], [], 0
    return (
        [(n / total, f) for f, n in own.most_common(top)],
        [(n / total, f) for f, n in inclusive.most_common(top)],
        total,
    )


def _cpu_ms(run: dict[str, Any]) -> dict[str, float]:
    """CPU milliseconds per 2xx answer of a max-rate run, by process group."""
    answered = run.get("accepted_all") or 0
    return {k: v * 1000 / answered for k, v in run.get("cpu_s", {}).items()} if answered else {}


def render_cpu(rounds: list[Round]) -> list[str]:
    """Where the CPU went during the max-rate runs: per accepted webhook, median of rounds."""
    app = [_cpu_ms(r.app_max) for r in rounds]
    ceiling = [_cpu_ms(r.ceiling_max) for r in rounds]
    names = ("web", "worker", "postgres", "redis")
    if not any(app):
        return []
    cells = [f"{_median([a.get(n) for a in app]) or 0:.2f}" for n in names]
    total = _median([sum(a.values()) for a in app if a]) or 0
    return [
        "CPU time per accepted webhook during the max-rate runs (median of rounds; the web "
        "server's workers, the Celery worker's processes, every PostgreSQL process, Redis; the "
        "load generator not included):",
        "",
        "| | web | worker | PostgreSQL | Redis | total |",
        "|---|---:|---:|---:|---:|---:|",
        f"| app, ms | {' | '.join(cells)} | {total:.2f} |",
        f"| bare Flask, ms | {_median([c.get('web') for c in ceiling]) or 0:.2f} | – | – | – | "
        f"{_median([c.get('web') for c in ceiling]) or 0:.2f} |",
    ]


def render_profile(stacks: str, root: Path) -> list[str]:
    own, inclusive, total = hot_spots(stacks, root)
    lines = [
        "Profile (py-spy --gil: samples of Python code on the CPU, 100/s, both web workers, "
        f"through the app's max-rate and latency runs of round 1; {total:,} samples). Top five "
        "hot spots by self time:",
        "",
    ]
    lines += [f"1. {share * 100:.1f} % `{name}`" for share, name in own]
    lines += ["", "The project's functions with the most time below them (inclusive):", ""]
    lines += [f"1. {share * 100:.1f} % `{name}`" for share, name in inclusive]
    return lines


def write_section(path: Path, label: str, text: str) -> None:
    """Put `text` into the file as the section `label`, replacing that section of an earlier
    run and keeping every other section."""
    start, end = f"<!-- ingest-bench: {label} -->", f"<!-- /ingest-bench: {label} -->"
    block = f"{start}\n{text.rstrip()}\n{end}"
    content = path.read_text() if path.exists() else HEADER
    if start in content and end in content:
        before, rest = content.split(start, 1)
        content = before + block + rest.split(end, 1)[1]
    else:
        content = content.rstrip() + "\n\n" + block + "\n"
    path.write_text(content)
