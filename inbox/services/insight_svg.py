"""Small server-side SVG charts for the insight dashboard and its printed report.

Every series has its own fill pattern (solid, hatched, dotted, ...) as well as its own shade,
and bars carry their numbers, so no chart depends on colour; each chart sits next to a table
with the same numbers. The SVG is decorative for screen readers only in the sense that the
table follows it: it has role="img" and a title naming what it shows.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

# (fill colour, pattern kind): dark enough against white for 3:1 non-text contrast.
STYLES = [
    ("#1d4f91", "solid"),
    ("#8a3b12", "diagonal"),
    ("#2e6b30", "dots"),
    ("#5b2a86", "cross"),
    ("#6b5300", "horizontal"),
    ("#7a1f3d", "vertical"),
    ("#3d3d3d", "diagonal2"),
]
TEXT = "#1a1a1a"


def _fmt(value: float) -> str:
    return (
        f"{value:,.0f}".replace(",", "\u00a0")
        if abs(value) >= 10
        else f"{value:.1f}".rstrip("0").rstrip(".").replace(".", ",")
    )


def _patterns(uid: str, n: int) -> str:
    parts = []
    for i in range(min(n, len(STYLES))):
        colour, kind = STYLES[i]
        pid = f"{uid}-p{i}"
        inner = {
            "solid": "",
            "diagonal": f'<path d="M0,6 L6,0" stroke="{colour}" stroke-width="2"/>',
            "diagonal2": f'<path d="M0,0 L6,6" stroke="{colour}" stroke-width="2"/>',
            "dots": f'<circle cx="3" cy="3" r="1.6" fill="{colour}"/>',
            "cross": f'<path d="M0,3 H6 M3,0 V6" stroke="{colour}" stroke-width="1.5"/>',
            "horizontal": f'<path d="M0,3 H6" stroke="{colour}" stroke-width="2"/>',
            "vertical": f'<path d="M3,0 V6" stroke="{colour}" stroke-width="2"/>',
        }[kind]
        background = colour if kind == "solid" else "#ffffff"
        parts.append(
            f'<pattern id="{pid}" width="6" height="6" patternUnits="userSpaceOnUse">'
            f'<rect width="6" height="6" fill="{background}"/>{inner}</pattern>'
        )
    return "<defs>" + "".join(parts) + "</defs>"


def _fill(uid: str, i: int) -> str:
    colour = STYLES[i % len(STYLES)][0]
    return f'fill="url(#{uid}-p{i % len(STYLES)})" stroke="{colour}" stroke-width="1"'


def _open(uid: str, title: str, width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{uid}-t" focusable="false">'
        f'<title id="{uid}-t">{escape(title)}</title>'
    )


def _legend(uid: str, names: Sequence[str], y: int) -> str:
    out, x = [], 0
    for i, name in enumerate(names):
        out.append(
            f'<rect x="{x}" y="{y}" width="14" height="14" {_fill(uid, i)}/>'
            f'<text x="{x + 20}" y="{y + 12}" font-size="13" fill="{TEXT}">{escape(name)}</text>'
        )
        x += 28 + 8 * len(name)
    return "".join(out)


def stacked_bars(
    uid: str, title: str, labels: Sequence[str], series: dict[str, Sequence[int]]
) -> Markup:
    """Columns over time (one per label), stacked by series; the legend names the patterns."""
    width, height, left, bottom, top = 720, 300, 44, 40, 34
    names = list(series)
    totals = [sum(series[s][i] for s in names) for i in range(len(labels))]
    peak = max(totals, default=0) or 1
    plot_h = height - bottom - top
    step = (width - left - 4) / max(len(labels), 1)
    bar = max(step * 0.8, 1)
    svg = [_open(uid, title, width, height), _patterns(uid, len(names))]
    svg.append(_legend(uid, names, 4))
    for frac in (0, 0.5, 1):
        y = top + plot_h * (1 - frac)
        svg.append(
            f'<line x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#767676" '
            f'stroke-width="0.5"/><text x="{left - 6}" y="{y + 4:.1f}" font-size="12" '
            f'text-anchor="end" fill="{TEXT}">{_fmt(peak * frac)}</text>'
        )
    every = max(1, len(labels) // 8)
    for i, label in enumerate(labels):
        x = left + i * step + (step - bar) / 2
        y = top + plot_h
        for j, name in enumerate(names):
            v = series[name][i]
            if not v:
                continue
            h = plot_h * v / peak
            y -= h
            svg.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f"{_fill(uid, j)}/>"
            )
        if i % every == 0:
            svg.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" font-size="12" '
                f'text-anchor="middle" fill="{TEXT}">{escape(label)}</text>'
            )
    svg.append("</svg>")
    return Markup("".join(svg))  # noqa: S704 (every text above went through escape())


def hbars(
    uid: str, title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]]
) -> Markup:
    """Horizontal bars, one group per label and one bar per series, each with its number."""
    names = list(series)
    row = 18
    group = row * len(names) + 10
    left, width = 170, 720
    height = 30 + group * max(len(labels), 1)
    peak = max((v or 0 for s in series.values() for v in s), default=0) or 1
    svg = [_open(uid, title, width, height), _patterns(uid, len(names))]
    if len(names) > 1:
        svg.append(_legend(uid, names, 2))
    for i, label in enumerate(labels):
        y0 = 28 + i * group
        svg.append(
            f'<text x="{left - 8}" y="{y0 + group / 2:.1f}" font-size="13" text-anchor="end" '
            f'fill="{TEXT}">{escape(label[:24])}</text>'
        )
        for j, name in enumerate(names):
            v = series[name][i]
            y = y0 + j * row
            w = (width - left - 70) * (v or 0) / peak
            if v:
                svg.append(
                    f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{row - 4}" {_fill(uid, j)}/>'
                )
            svg.append(
                f'<text x="{left + w + 6:.1f}" y="{y + row - 7}" font-size="12" '
                f'fill="{TEXT}">{"–" if v is None else _fmt(v)}</text>'
            )
    svg.append("</svg>")
    return Markup("".join(svg))  # noqa: S704 (every text above went through escape())


def heat_map(
    uid: str, title: str, days: Sequence[str], counts: dict[tuple[int, int], int]
) -> Markup:
    """Weekday × hour grid; the shade deepens with the count and every cell shows its number."""
    cell_w, cell_h, left, top = 28, 24, 44, 20
    width, height = left + 24 * cell_w + 2, top + 7 * cell_h + 2
    peak = max(counts.values(), default=0) or 1
    svg = [_open(uid, title, width, height)]
    for h in range(24):
        svg.append(
            f'<text x="{left + h * cell_w + cell_w / 2}" y="{top - 6}" font-size="11" '
            f'text-anchor="middle" fill="{TEXT}">{h:02d}</text>'
        )
    for d, name in enumerate(days):
        y = top + d * cell_h
        svg.append(
            f'<text x="{left - 6}" y="{y + cell_h / 2 + 4}" font-size="12" text-anchor="end" '
            f'fill="{TEXT}">{escape(name)}</text>'
        )
        for h in range(24):
            n = counts.get((d, h), 0)
            level = n / peak
            # White to dark blue; the number switches to white where the cell is dark.
            r, g, b = (int(255 - level * (255 - c)) for c in (11, 46, 107))
            fill = f"rgb({r},{g},{b})" if n else "#ffffff"
            ink = "#ffffff" if level > 0.6 else TEXT
            x = left + h * cell_w
            svg.append(
                f'<rect x="{x}" y="{y}" width="{cell_w - 1}" height="{cell_h - 1}" fill="{fill}" '
                f'stroke="#949494" stroke-width="0.5"/>'
            )
            if n:
                svg.append(
                    f'<text x="{x + cell_w / 2 - 0.5}" y="{y + cell_h / 2 + 4}" font-size="10" '
                    f'text-anchor="middle" fill="{ink}">{n}</text>'
                )
    svg.append("</svg>")
    return Markup("".join(svg))  # noqa: S704 (every text above went through escape())
