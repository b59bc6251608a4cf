"""The insight dashboard (docs/insight.md): records officers and admins see their
municipality's figures for a period against the previous one, per team if they choose; every
chart has its numbers as a table and the same table as CSV; a printable monthly report."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import login_required
from markupsafe import Markup

from channels.webchat.hours import _zone
from inbox.extensions import db
from inbox.models import InsightState, Role, Tenant
from inbox.models.base import utcnow
from inbox.services import insight
from inbox.services.access import current, require_role
from inbox.services.insight import Period, Stats
from inbox.services.insight_svg import hbars, heat_map, stacked_bars

bp = Blueprint("insight", __name__, url_prefix="/insight")

READERS = (Role.RECORDS_OFFICER, Role.ADMIN)
REPORT_CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "insight-report.css"
MAX_DAYS = 366
CHARTS = (
    "summary",
    "volume",
    "response_channel",
    "response_team",
    "backlog",
    "heat",
    "archive",
    "outside",
    "tags",
    "terms",
    "cost",
    "alerts",
)


class BadRequest(ValueError):
    pass


@dataclass
class Table:
    id: str
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    chart: Markup | None = None
    note: str | None = None


# -- formatting (the same strings go to the page and to the CSV) -------------------------------


def _num(value: float | None, pattern: str = "#,##0") -> str:
    if value is None:
        return "–"
    return format_decimal(value, format=pattern, locale=str(get_locale() or "nb"))


def _minutes(s: float | None) -> str:
    return _num(None if s is None else s / 60, "#,##0.0")


def _hours(s: float | None) -> str:
    return _num(None if s is None else s / 3600, "#,##0.0")


def _share(part: int, whole: int) -> str:
    return "–" if not whole else _num(100 * part / whole, "0.0") + " %"


def _kroner(value: float) -> str:
    return _num(value, "#,##0.##")


def channel_name(kind: str) -> str:
    return _(kind) if kind not in ("phone", "letter") else _channel_extra(kind)


def _channel_extra(kind: str) -> str:
    return _("Phone") if kind == "phone" else _("Letter or e-mail")


def weekday_names() -> list[str]:
    return [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]


# -- request parameters ---------------------------------------------------------------------------


def _tenants() -> list[Tenant]:
    tenants = [m.tenant for m in current().memberships if m.role in READERS]
    if not tenants:
        abort(403)
    return sorted(tenants, key=lambda t: t.name)


def _tenant(tenants: list[Tenant], raw: str | None) -> Tenant:
    if not raw:
        return tenants[0]
    if not raw.isdigit():
        abort(404)
    require_role(int(raw), *READERS)
    tenant = db.session.get(Tenant, int(raw))
    if tenant is None:
        abort(404)
    return tenant


def _date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(_("Dates are written as YYYY-MM-DD, for example 2026-03-31.")) from None


def period_from(tenant: Tenant, args: Any) -> Period:
    today = utcnow().astimezone(_zone(tenant)).date()
    month = (args.get("month") or "").strip()
    if month:
        try:
            first = datetime.strptime(month, "%Y-%m").date()  # noqa: DTZ007 (a date only)
        except ValueError:
            raise BadRequest(_("A month is written as YYYY-MM, for example 2026-03.")) from None
        after = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        return Period(first, after - timedelta(days=1))
    raw_from, raw_to = (args.get("from") or "").strip(), (args.get("to") or "").strip()
    end = _date(raw_to) if raw_to else today
    start = _date(raw_from) if raw_from else end - timedelta(days=29)
    if start > end:
        raise BadRequest(_("The period must start before it ends."))
    if (end - start).days + 1 > MAX_DAYS:
        raise BadRequest(_("Choose a period of at most 366 days."))
    if start.year < 2000 or end.year > 2100:
        raise BadRequest(_("Choose a period between the years 2000 and 2100."))
    return Period(start, end)


def team_from(tenant: Tenant, raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise BadRequest(_("Choose a team from the list."))
    team_id = int(raw)
    if team_id != 0 and team_id not in {t.id for t in insight.teams_of(tenant.id)}:
        raise BadRequest(_("Choose a team from the list."))
    return team_id


# -- tables ---------------------------------------------------------------------------------------


def _stats_cells(s: Stats | None, fmt: Any) -> list[str]:
    s = s or Stats()
    return [_num(s.n), fmt(s.p50), fmt(s.p90)]


def build_tables(tenant: Tenant, period: Period, team_id: int | None) -> dict[str, Table]:
    now = utcnow()
    cur = insight.cached_figures(tenant, period, team_id)
    prev = insight.cached_figures(tenant, period.previous(), team_id, brief=True)
    costs = insight.costs_for(tenant.id)
    cost, prev_cost = insight.cost_table(cur, costs), insight.cost_table(prev, costs)
    teams = {t.id: t.name for t in insight.teams_of(tenant.id)}
    teams[0] = _("No team")
    tables: dict[str, Table] = {}

    fr, pfr = cur.response["first_response"]["*"], prev.response["first_response"]["*"]
    rs = cur.response["resolution"].get("*") or Stats()
    prs = prev.response["resolution"].get("*") or Stats()
    tables["summary"] = Table(
        "summary",
        _("Key figures"),
        [_("Measure"), _("This period"), _("Previous period")],
        [
            [_("Inquiries"), _num(cur.inquiries), _num(prev.inquiries)],
            [_("First response, median (minutes)"), _minutes(fr.p50), _minutes(pfr.p50)],
            [_("First response, 90th percentile (minutes)"), _minutes(fr.p90), _minutes(pfr.p90)],
            [_("Resolution, median (hours)"), _hours(rs.p50), _hours(prs.p50)],
            [_("Resolution, 90th percentile (hours)"), _hours(rs.p90), _hours(prs.p90)],
            [
                _("Share flagged as archive-worthy"),
                _share(cur.flagged, cur.inquiries),
                _share(prev.flagged, prev.inquiries),
            ],
            [
                _("Answers sent outside opening hours"),
                _num(cur.replies_outside),
                _num(prev.replies_outside),
            ],
            [_("Estimated cost (kr)"), _kroner(cost.actual), _kroner(prev_cost.actual)],
        ],
    )

    kinds = sorted(set(cur.per_channel) | set(prev.per_channel))
    dates = period.dates()
    volume = Table(
        "volume",
        _("Inquiries per channel and day"),
        [_("Date"), *[channel_name(k) for k in kinds], _("Total")],
    )
    for d in dates:
        day = cur.per_day.get(d, {})
        volume.rows.append(
            [d.isoformat(), *[_num(day.get(k, 0)) for k in kinds], _num(sum(day.values()))]
        )
    volume.rows.append(
        [_("Total"), *[_num(cur.per_channel.get(k, 0)) for k in kinds], _num(cur.inquiries)]
    )
    volume.rows.append(
        [
            _("Previous period"),
            *[_num(prev.per_channel.get(k, 0)) for k in kinds],
            _num(prev.inquiries),
        ]
    )
    volume.chart = stacked_bars(
        "chart-volume",
        volume.title,
        [d.strftime("%d.%m") for d in dates],
        {channel_name(k): [cur.per_day.get(d, {}).get(k, 0) for d in dates] for k in kinds},
    )
    tables["volume"] = volume

    columns = [
        _("Answered"),
        _("First response, median (minutes)"),
        _("First response, 90th percentile (minutes)"),
        _("Answered inside opening hours"),
        _("Opening-hours time to first response, median (minutes)"),
        _("Opening-hours time to first response, 90th percentile (minutes)"),
        _("Resolved"),
        _("Resolution, median (hours)"),
        _("Resolution, 90th percentile (hours)"),
    ]

    def response_row(key: Any, metrics: dict[str, dict[Any, Stats]]) -> list[str]:
        return [
            *_stats_cells(metrics["first_response"].get(key), _minutes),
            *_stats_cells(metrics["first_response_open"].get(key), _minutes),
            *_stats_cells(metrics["resolution"].get(key), _hours),
        ]

    by_channel = Table("response_channel", _("Response and resolution time per channel"), [
        _("Channel"), *columns,
    ])  # fmt: skip
    for k in sorted(cur.per_channel):
        by_channel.rows.append([channel_name(k), *response_row(k, cur.response)])
    by_channel.rows.append([_("All channels"), *response_row("*", cur.response)])
    first = cur.response["first_response"]
    by_channel.chart = hbars(
        "chart-response",
        _("First response time per channel (minutes)"),
        [channel_name(k) for k in sorted(cur.per_channel)],
        {
            _("Median"): [_m(first.get(k), "p50") for k in sorted(cur.per_channel)],
            _("90th percentile"): [_m(first.get(k), "p90") for k in sorted(cur.per_channel)],
        },
    )
    tables["response_channel"] = by_channel

    by_team = Table("response_team", _("Response and resolution time per team"), [
        _("Team"), *columns,
    ])  # fmt: skip
    team_keys = sorted(cur.response_team["first_response"] | cur.response_team["resolution"])
    team_keys = sorted(set(team_keys) | set(cur.response_team["first_response_open"]))
    for key in sorted(team_keys, key=lambda k: teams.get(k, "")):
        by_team.rows.append([teams.get(key, str(key)), *response_row(key, cur.response_team)])
    tables["response_team"] = by_team

    b = insight.backlog(tenant, team_id, now)
    backlog = Table(
        "backlog",
        _("Backlog now"),
        [_("Channel"), _("Open conversations"), _("Waiting for an answer")],
    )
    for k, (n, waiting) in sorted(b.per_channel.items()):
        backlog.rows.append([channel_name(k), _num(n), _num(waiting)])
    backlog.rows.append([_("All channels"), _num(b.open), _num(b.waiting)])
    backlog.note = _(
        "Waiting now: median %(median)s hours, 90th percentile %(p90)s hours, longest "
        "%(longest)s hours.",
        median=_hours(b.wait.p50),
        p90=_hours(b.wait.p90),
        longest=_hours(b.longest),
    )
    tables["backlog"] = backlog

    days = weekday_names()
    heat = Table(
        "heat",
        _("Busiest hours (inquiries per weekday and hour, %(zone)s)", zone=tenant.timezone),
        [_("Weekday"), *[f"{h:02d}" for h in range(24)]],
    )
    for d, name in enumerate(days):
        heat.rows.append([name, *[_num(cur.heat.get((d, h), 0)) for h in range(24)]])
    heat.chart = heat_map("chart-heat", heat.title, days, cur.heat)
    tables["heat"] = heat

    tables["archive"] = Table(
        "archive",
        _("Archive-worthy conversations"),
        [_("Measure"), _("This period"), _("Previous period")],
        [
            [_("Flagged as archive-worthy"), _num(cur.flagged), _num(prev.flagged)],
            [
                _("Share of inquiries"),
                _share(cur.flagged, cur.inquiries),
                _share(prev.flagged, prev.inquiries),
            ],
            [_("Journalled"), _num(cur.journalled), _num(prev.journalled)],
            [
                _("Flag to journal entry, median (hours)"),
                _hours(cur.flag_to_journal.p50),
                _hours(prev.flag_to_journal.p50),
            ],
            [
                _("Flag to journal entry, 90th percentile (hours)"),
                _hours(cur.flag_to_journal.p90),
                _hours(prev.flag_to_journal.p90),
            ],
        ],
    )

    outside = Table(
        "outside",
        _("Answers sent outside opening hours"),
        [_("Channel"), _("Answers"), _("Outside opening hours"), _("Share")],
    )
    for k, (r, o) in sorted(cur.outside_per_channel.items()):
        outside.rows.append([channel_name(k), _num(r), _num(o), _share(o, r)])
    outside.rows.append(
        [
            _("All channels"),
            _num(cur.replies),
            _num(cur.replies_outside),
            _share(cur.replies_outside, cur.replies),
        ]
    )
    tables["outside"] = outside

    tags = Table("tags", _("Top tags"), [_("Tag"), _("Conversations")])
    tags.rows = [[name, _num(n)] for name, n in cur.tags]
    if cur.tags:
        tags.chart = hbars(
            "chart-tags", tags.title, [n for n, _c in cur.tags], {"": [c for _n, c in cur.tags]}
        )
    tables["tags"] = tags

    terms = Table("terms", _("Frequent terms in first messages"), [_("Term"), _("First messages")])
    terms.rows = [[term, _num(n)] for term, n in cur.terms]
    if cur.terms:
        terms.chart = hbars(
            "chart-terms",
            terms.title,
            [t for t, _c in cur.terms],
            {"": [c for _t, c in cur.terms]},
        )
    tables["terms"] = terms

    cost_t = Table(
        "cost",
        _("Estimated channel cost"),
        [_("Channel"), _("Contacts"), _("Cost per contact (kr)"), _("Estimated cost (kr)")],
    )
    for k, n, per, total in cost.rows:
        cost_t.rows.append([channel_name(k), _num(n), _kroner(per), _kroner(total)])
    cost_t.rows.append([_("All channels"), _num(cost.contacts), "", _kroner(cost.actual)])
    cost_t.rows.append(
        [
            _("The same contacts by phone"),
            _num(cost.contacts),
            _kroner(costs["phone"]),
            _kroner(cost.by_phone),
        ]
    )
    cost_t.rows.append(
        [
            _("The same contacts by letter or e-mail"),
            _num(cost.contacts),
            _kroner(costs["letter"]),
            _kroner(cost.by_letter),
        ]
    )
    cost_t.chart = hbars(
        "chart-cost",
        _("Estimated cost of the period (kr)"),
        [_("Actual channels"), _("By phone"), _("By letter or e-mail")],
        {"": [cost.actual, cost.by_phone, cost.by_letter]},
    )
    tables["cost"] = cost_t

    alerts = insight.sms_alert_stats(tenant, period)
    alerts_t = Table("alerts", _("SMS alerts"), [_("Measure"), _("This period")])
    if not alerts.sent:
        alerts_t.note = _("No SMS alerts were sent in this period.")
    else:
        alerts_t.rows = [
            [_("Alerts"), _num(alerts.alerts)],
            [_("Messages sent"), _num(alerts.sent)],
            [_("Delivered"), _num(alerts.delivered)],
            [_("Not delivered"), _num(alerts.failed)],
            [_("Delivery rate"), _share(alerts.delivered, alerts.sent)],
        ]
    tables["alerts"] = alerts_t
    return tables


def _m(s: Stats | None, attr: str) -> float | None:
    value = getattr(s, attr) if s else None
    return None if value is None else round(value / 60, 1)


# A cell a spreadsheet would run as a formula (a tag or team named "=HYPERLINK(...)").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def csv_text(table: Table) -> str:
    """The table as CSV: the same cells, except that one a spreadsheet would take for a formula
    gets a leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([_cell(c) for c in table.columns])
    writer.writerows([_cell(c) for c in row] for row in table.rows)
    return out.getvalue()


# -- routes ---------------------------------------------------------------------------------------


def _page_args(period: Period, team_id: int | None) -> dict[str, str]:
    args = {"from": period.start.isoformat(), "to": period.end.isoformat()}
    if team_id is not None:
        args["team"] = str(team_id)
    return args


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    tenants = _tenants()
    tenant = _tenant(tenants, request.args.get("tenant"))
    role = current().role_in(tenant.id)
    try:
        period = period_from(tenant, request.args)
        team_id = team_from(tenant, request.args.get("team"))
    except BadRequest as exc:
        page = render_template(
            "insight/dashboard.html",
            tenant=tenant,
            tenants=tenants,
            error=str(exc),
            args=request.args,
            teams=insight.teams_of(tenant.id),
            tables=None,
        )
        return page, 400
    state = db.session.get(InsightState, tenant.id)
    return render_template(
        "insight/dashboard.html",
        tenant=tenant,
        tenants=tenants,
        error=None,
        args=request.args,
        period=period,
        previous=period.previous(),
        team_id=team_id,
        teams=insight.teams_of(tenant.id),
        tables=build_tables(tenant, period, team_id),
        page_args=_page_args(period, team_id),
        refreshed=(
            state.refreshed_through.astimezone(_zone(tenant)).strftime("%d.%m.%Y %H:%M")
            if state and state.refreshed_through
            else None
        ),
        is_admin=role is Role.ADMIN,
        costs=insight.costs_for(tenant.id),
        cost_kinds=list(insight.DEFAULT_COSTS),
        channel_name=channel_name,
        month=(period.start.replace(day=1)).strftime("%Y-%m"),
    )


@bp.get("/<int:tenant_id>/<chart>.csv")
@login_required
def download(tenant_id: int, chart: str):  # type: ignore[no-untyped-def]
    require_role(tenant_id, *READERS)
    tenant = db.session.get(Tenant, tenant_id)
    if tenant is None or chart not in CHARTS:
        abort(404)
    try:
        period = period_from(tenant, request.args)
        team_id = team_from(tenant, request.args.get("team"))
    except BadRequest as exc:
        abort(400, str(exc))
    table = build_tables(tenant, period, team_id)[chart]
    name = f"{tenant.slug}-{chart}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return Response(
        "\ufeff" + csv_text(table),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def _report_html(tenant: Tenant, period: Period, team_id: int | None, pdf: bool) -> str:
    return render_template(
        "insight/report.html",
        tenant=tenant,
        period=period,
        previous=period.previous(),
        team_id=team_id,
        team_name=(
            None
            if team_id is None
            else {t.id: t.name for t in insight.teams_of(tenant.id)}.get(team_id, _("No team"))
        ),
        tables=build_tables(tenant, period, team_id),
        printed=utcnow().astimezone(_zone(tenant)),
        pdf=pdf,
        report_css=Markup(REPORT_CSS.read_text(encoding="utf-8")) if pdf else "",  # noqa: S704 (our file)
    )


@bp.get("/<int:tenant_id>/report")
@login_required
def report(tenant_id: int):  # type: ignore[no-untyped-def]
    require_role(tenant_id, *READERS)
    tenant = db.session.get(Tenant, tenant_id)
    if tenant is None:
        abort(404)
    try:
        period = period_from(tenant, request.args)
        team_id = team_from(tenant, request.args.get("team"))
    except BadRequest as exc:
        abort(400, str(exc))
    if request.args.get("format") == "pdf":
        from weasyprint import HTML

        pdf = HTML(string=_report_html(tenant, period, team_id, True)).write_pdf()
        name = f"{tenant.slug}-innsikt-{period.start.isoformat()}-{period.end.isoformat()}.pdf"
        return Response(
            pdf,
            mimetype="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return _report_html(tenant, period, team_id, False)


@bp.post("/<int:tenant_id>/refresh")
@login_required
def refresh(tenant_id: int):  # type: ignore[no-untyped-def]
    require_role(tenant_id, *READERS)
    tenant = db.session.get(Tenant, tenant_id)
    if tenant is None:
        abort(404)
    result = insight.refresh(tenant)
    flash(_("The figures are up to date (%(n)d conversations updated).", n=result.conversations))
    return redirect(url_for("insight.index", tenant=tenant_id, **_safe_args()))


@bp.post("/<int:tenant_id>/costs")
@login_required
def save_costs(tenant_id: int):  # type: ignore[no-untyped-def]
    require_role(tenant_id, Role.ADMIN)
    try:
        insight.set_costs(tenant_id, {k: request.form.get(k, "") for k in insight.DEFAULT_COSTS})
    except insight.CostError as exc:
        db.session.rollback()
        flash(
            _(
                "The cost for %(channel)s must be a number of kroner from 0 to 100 000.",
                channel=channel_name(str(exc)),
            ),
            "error",
        )
        return redirect(url_for("insight.index", tenant=tenant_id, **_safe_args()), 303)
    db.session.commit()
    flash(_("The costs per contact are saved."))
    return redirect(url_for("insight.index", tenant=tenant_id, **_safe_args()), 303)


def _safe_args() -> dict[str, str]:
    """The period and team the form was sent from, passed back to the page (checked there)."""
    return {k: v[:20] for k in ("from", "to", "team") if (v := request.form.get(k) or "").strip()}
