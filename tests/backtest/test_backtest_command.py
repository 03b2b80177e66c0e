"""``ibbot backtest``: an end-to-end replay of config/sma_crossover.yaml over two trading days of
the shipped sample (about 10 s), and bad input with its exact messages (exit 2)."""

from __future__ import annotations

import csv
import gzip
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path("config/sma_crossover.yaml")


@pytest.fixture(autouse=True)
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the configs name data/sample relative to the repository


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return list(con.execute(sql))
    finally:
        con.close()


def last_close(symbol: str, day: str) -> float:
    """The regular session's last 1-minute close (15:59 New York), read from the data file."""
    with gzip.open(ROOT / "data" / "sample" / f"{symbol}.csv.gz", "rt") as fh:
        bars = [r for r in csv.DictReader(fh) if r["time"].startswith(day)]
    return float(next(r for r in bars if r["time"] == f"{day}T19:59:00Z")["close"])


def round_trips_in_journal(db: Path) -> int:
    """Closing orders: those whose fills reduce a strategy's open position in that symbol."""
    pos: dict[tuple[str, str], float] = {}
    closing: set[str] = set()
    for sid, sym, side, qty, ref in rows(
        db, "SELECT strategy_id, symbol, side, quantity, order_ref FROM fills ORDER BY time, rowid"
    ):
        signed = qty if side == "BUY" else -qty
        held = pos.get((sid, sym), 0.0)
        if held and (held > 0) != (signed > 0):
            closing.add(ref)
        pos[(sid, sym)] = held + signed
    return len(closing)


def test_two_day_backtest_of_the_sma_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.sim.market import Market

    loads: list[object] = []
    real_load = Market.load.__func__  # type: ignore[attr-defined]

    def counting_load(cls: type[Market], *args: Any, **kw: Any) -> Market:
        loads.append(args)
        return real_load(cls, *args, **kw)  # type: ignore[no-any-return]

    monkeypatch.setattr(Market, "load", classmethod(counting_load))
    out = tmp_path / "bt"
    code = main(["backtest", str(CONFIG), "--from", "2026-10-20", "--to", "2026-10-21",
                 "--cash", "250000", "--out", str(out)])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    assert len(loads) == 1  # the gateway replays the market the backtest loaded to plan
    for name in ("kpis.json", "equity.csv", "trades.csv", "journal.sqlite"):
        assert (out / name).is_file(), name
    doc = json.loads((out / "kpis.json").read_text())
    assert doc["trading_days"] == 2 and doc["cash"] == 250000
    assert doc["stop_reason"] == "end of the simulated gateway's data"
    journal = out / "journal.sqlite"
    assert rows(journal, "SELECT COUNT(*) FROM runs") == [(1,)]  # its own journal, one run
    total = doc["kpis"]["total"]

    # trades: the round trips in the journal
    with (out / "trades.csv").open() as fh:
        trades = list(csv.DictReader(fh))
    assert total["trades"] == len(trades) == round_trips_in_journal(journal) > 0

    # equity at the end = cash + realized - commissions + open P&L at the last close, to the cent
    realized = sum(float(t["gross_pnl"]) for t in trades)
    ((commissions,),) = rows(journal, "SELECT SUM(commission) FROM fills")
    assert total["commissions"] == pytest.approx(commissions)
    open_pnl = 0.0
    for p in doc["open_positions"]:
        assert p["close"] == last_close(p["symbol"], "2026-10-21")
        open_pnl += p["quantity"] * (p["close"] - p["avg_price"])
    end = 250000 + realized - commissions + open_pnl
    assert round(total["end_equity"], 2) == round(end, 2)
    # ... and what the simulated account itself says its NetLiquidation is
    assert round(doc["gateway_net_liquidation"], 2) == round(end, 2)

    with (out / "equity.csv").open() as fh:
        equity = list(csv.DictReader(fh))
    assert [r["time"][:10] for r in equity] == ["2026-10-20", "2026-10-20", "2026-10-21"]
    assert float(equity[0]["total"]) == 250000 and float(equity[-1]["total"]) == round(end, 2)
    assert "total return" in printed and "max drawdown" in printed and "sma-cross" in printed


def test_a_config_without_a_gateway_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = yaml.safe_load(CONFIG.read_text())
    del raw["gateway"]
    path = tmp_path / "no_gateway.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["backtest", str(path), "--from", "2026-10-20", "--to", "2026-10-21"]) == 2
    assert capsys.readouterr().err == (
        "ibbot backtest: the config has no 'gateway:' block: a backtest replays the embedded "
        "simulated gateway's data (add e.g. 'gateway: {data: data/sample}')\n"
    )


def test_a_range_outside_the_data(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", str(CONFIG), "--from", "2025-01-01", "--to", "2025-01-31"]) == 2
    assert capsys.readouterr().err == (
        "ibbot backtest: no trading day with data from 2025-01-01 to 2025-01-31: the data in "
        f"{ROOT / 'data' / 'sample'} covers 2026-10-01 to 2026-10-30\n"
    )


def test_a_reversed_range(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", str(CONFIG), "--from", "2026-10-21", "--to", "2026-10-20"]) == 2
    assert capsys.readouterr().err == "ibbot backtest: --from 2026-10-21 is after --to 2026-10-20\n"


@pytest.mark.parametrize("flag", ["--from", "--to"])
def test_a_bad_date(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = {"--from": "2026-10-20", "--to": "2026-10-21"} | {flag: "2026-13-01"}
    with pytest.raises(SystemExit) as exc:
        main(["backtest", str(CONFIG), *(x for kv in args.items() for x in kv)])
    assert exc.value.code == 2
    assert capsys.readouterr().err.endswith(
        f"ibbot backtest: error: argument {flag}: bad date '2026-13-01': use YYYY-MM-DD\n"
    )


def test_a_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("strategies: []\n")
    assert main(["backtest", str(path), "--from", "2026-10-20", "--to", "2026-10-21"]) == 2
    assert str(path) in capsys.readouterr().err


def test_the_example_backtest_config_passes_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "config/backtest.yaml"]) == 0
    assert capsys.readouterr().out.startswith("# config/backtest.yaml: OK (")


@pytest.mark.parametrize("engine", ["inprocess", "gateway"])
def test_an_interrupted_replay_exits_1_and_says_so(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Ctrl-C stops the daemon cleanly (exit 0 for `ibbot run`), but a backtest that did not
    reach the end of its range must not pass its partial figures off as the whole."""
    import types

    from bot.backtest import runner

    async def stopped_by_signal(p: Any, **kw: Any) -> tuple[int, Any]:
        return 0, types.SimpleNamespace(
            stop_reason="signal SIGINT", gateway=None, account="", bars=0,
            net_liquidation=lambda: None, loop_seconds=0.0,
        )  # fmt: skip

    monkeypatch.setattr(runner, "replay" if engine == "gateway" else "replay_inprocess",
                        stopped_by_signal)  # fmt: skip
    out = tmp_path / "bt"
    code = main(["backtest", str(CONFIG), "--from", "2026-10-20", "--to", "2026-10-21",
                 "--out", str(out), "--engine", engine])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "ibbot backtest: INTERRUPTED (signal SIGINT): the figures cover only the part" in err
    assert json.loads((out / "kpis.json").read_text())["stop_reason"] == "signal SIGINT"
