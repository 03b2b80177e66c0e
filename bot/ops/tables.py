"""``ibbot status`` and ``ibbot journal`` as text: the status facts (from the running daemon's
/api/status, or rebuilt from the journal) and a journal day, as aligned tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.journal.queries import open_reader
from bot.journal.schema import NEVER_SENT
from bot.journal.store import Journal
from bot.ops.journal_view import DayReport, day_report, latest_day
from bot.runtime.text_table import render

_DONE = ("Filled", "Cancelled", "ApiCancelled", "Inactive", NEVER_SENT)


def _section(title: str, headers: list[str], rows: list[list[Any]]) -> str:
    body = render(headers, rows) if rows else "  (none)"
    return f"{title}\n{body}"


def _num(x: Any) -> Any:
    return "" if x is None else (round(x, 2) if isinstance(x, float) else x)


def status_from_journal(path: Path) -> dict[str, Any]:
    """The status facts a stopped daemon left in its journal: the last run, its positions,
    its orders not known done, and the latest day's fills and P&L."""
    day = latest_day(path)
    report = day_report(path, day)
    j = Journal(path)
    try:
        j.broker = report.broker
        positions = [{"strategy": s, "symbol": sym, "quantity": q}
                     for (s, sym), q in sorted(j.reads.positions().items())]  # fmt: skip
    finally:
        j.close()
    with open_reader(path) as journal:
        rows = journal.orders_not_in(report.broker, _DONE)
    columns = ("strategy", "symbol", "tag", "side", "quantity", "type", "limit", "stop",
               "filled", "status")  # fmt: skip
    working = [dict(zip(columns, r, strict=True)) for r in rows]
    return {"source": "journal", "day": day.isoformat(), "run": report.last_run,
            "positions": positions, "working_orders": working, "fills_today": report.fills,
            "pnl": report.pnl}  # fmt: skip


def render_status(s: dict[str, Any]) -> str:
    if s.get("source") == "journal":
        run = s["run"]
        head = (f"ibbot is not running; from the journal (last run {run.get('id')}: "
                f"{run.get('started')} .. {run.get('ended') or 'did not end cleanly'}, "
                f"account {run.get('account')})")  # fmt: skip
        parts = [head, _pnl_section(s["pnl"], s["day"])]
    else:
        c, h = s["connection"], s["health"]
        health = "healthy" if h["status"] == "ok" else "UNHEALTHY: " + "; ".join(h["reasons"])
        head = (f"ibbot running: {health} | account {s['account']} ({s['mode']}"
                f"{', dry run' if s['dry_run'] else ''}) | IB {c['state']} since {c['since']} "
                f"({c['why']}), reconnects "
                f"{c['reconnects']} | market time {s['market_time']}")  # fmt: skip
        strategies = [[x["id"], "yes" if x["enabled"] else "no", x["risk"], x["fills"],
                       x["rejections"], _num(x["pnl_today"]), _num(x["pnl_total"])]
                      for x in s["strategies"]]  # fmt: skip
        parts = [head, _section("Strategies", ["strategy", "enabled", "risk", "fills",
                                               "rejections", "PnL today", "PnL total"],
                                strategies)]  # fmt: skip
        farms = [[name, state] for name, state in sorted(c["farms"].items())]
        parts.append(_section("Data farms", ["farm", "state"], farms))
        risk = [[k, v["state"], v["reason"]] for k, v in s["risk"].items()]
        parts.append(_section("Risk", ["scope", "state", "reason"], risk))
        feeds = [[f["subscription"], f["age_s"], f["limit_s"], "yes" if f["liquid"] else "no",
                  "STALE" if f["stale"] else "ok"] for f in s["feeds"]]  # fmt: skip
        parts.append(_section("Feeds", ["subscription", "age s", "limit s", "liquid", "state"],
                              feeds))  # fmt: skip
    parts.append(_section("Positions", ["strategy", "symbol", "quantity"],
                          [[p["strategy"], p["symbol"], p["quantity"]] for p in s["positions"]]))
    wo = [[w["strategy"], w["symbol"], w["tag"], w["side"], w["quantity"], w["type"],
           _num(w["limit"]), _num(w["stop"]), w["filled"], w["status"]]
          for w in s["working_orders"]]  # fmt: skip
    parts.append(_section("Working orders", ["strategy", "symbol", "tag", "side", "qty", "type",
                                             "limit", "stop", "filled", "status"], wo))
    parts.append(_fills_section(s["fills_today"], "Today's fills"))
    return "\n\n".join(parts)


def _fills_section(fills: list[dict[str, Any]], title: str) -> str:
    rows = [[f["time"], f["strategy_id"], f["symbol"], f["side"], f["quantity"],
             _num(f["price"]), _num(f["commission"]), f["tag"]] for f in fills]  # fmt: skip
    return _section(title, ["time", "strategy", "symbol", "side", "qty", "price", "commission",
                            "tag"], rows)  # fmt: skip


def _pnl_section(pnl: dict[str, dict[str, float]], day: str) -> str:
    rows = [[sid, int(p["fills"]), _num(p["realized"]), _num(p["commission"]), _num(p["net"])]
            for sid, p in sorted(pnl.items())]  # fmt: skip
    return _section(f"P&L {day} (realized, average cost)",
                    ["strategy", "fills", "realized", "commission", "net"], rows)  # fmt: skip


def render_day(r: DayReport) -> str:
    orders = [[o["created"], o["strategy_id"], o["symbol"], o["tag"], o["action"],
               o["quantity"], o["order_type"], _num(o["lmt_price"]), _num(o["aux_price"]),
               o["status"], o["filled"], _num(o["avg_fill_price"])] for o in r.orders]  # fmt: skip
    return "\n\n".join([
        f"journal {r.day.isoformat()} (broker {r.broker or 'none'})",
        _section("Orders", ["created", "strategy", "symbol", "tag", "side", "qty", "type",
                            "limit", "stop", "status", "filled", "avg price"], orders),
        _fills_section(r.fills, "Fills"),
        _pnl_section(r.pnl, r.day.isoformat()),
    ])  # fmt: skip
