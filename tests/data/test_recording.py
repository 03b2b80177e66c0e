"""Recording (bot/market_data/recorder.py) and its replay (bot/sim/recording.py): a daemon trading
on the embedded simulated gateway records its bars and ticks; ``ibbot backtest`` over the
recording gives the strategies the very same bars, and the same fills; a failing disk stops
the recording, never the trading."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import sqlite3
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from bot.backtest.runner import plan, replay, run_backtest
from bot.config.errors import ConfigError
from bot.config.load import load_config
from bot.config.record import RecordConfig
from bot.market_data import recorder as recorder_mod
from bot.sim.recording import is_recording, kinds, read_kind

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2026, 10, 30)  # the sample's last session, as config/demo.yaml replays it
SPAN = timedelta(hours=2)  # of it, from the open
FILLS = "SELECT time, symbol, side, quantity, price, commission FROM fills ORDER BY time, exec_id"
BAR_KINDS = {"AAPL": "1min-TRADES-rth", "MSFT": "1min-TRADES-rth", "NVDA": "5min-TRADES-rth"}


def _config(tmp: Path, data: Path, record: Path | None) -> Path:
    """A short demo: 1-minute SMA crossovers, and an opening-range breakout entering on
    tick-by-tick trades."""
    cfg: dict[str, Any] = {
        "ib": {"client_id": 5},
        "gateway": {"data": str(data), "instruments": str(ROOT / "config/instruments.yaml"),
                    "seed": 1, "account": "DU1234567", "cash": 1_000_000},
        "universe": {"defaults": {"sec_type": "STK", "exchange": "SMART", "currency": "USD",
                                  "primary_exchange": "NASDAQ"},
                     "symbols": ["AAPL", "MSFT", "NVDA"]},
        "strategies": [
            {"id": "sma", "class": "sma_crossover", "symbols": ["AAPL", "MSFT"],
             "bars": {"size": "1 min", "warmup": "2 D"},
             "params": {"fast": 5, "slow": 20, "mode": "long_short"},
             "sizing": {"capital": 10000}},
            {"id": "orb", "class": "opening_range_breakout", "symbols": ["NVDA"],
             "bars": {"size": "5 mins", "warmup": "5 D"},
             "params": {"capital": 10000, "trigger": "last", "vol_mult": 0.5},
             "sizing": {"capital": 10000}},
        ],
        "journal": {"path": str(tmp / "journal.sqlite")},
        "executor": {"cancel_on_stop": True},
    }  # fmt: skip
    if record is not None:
        cfg["record"] = {"dir": str(record), "flush": "1s"}
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _fills(journal: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(journal) as db:
        return db.execute(FILLS).fetchall()


def _recorded_session(tmp: Path) -> tuple[Path, Path]:
    """The daemon on the embedded gateway (lockstep, max speed) over DAY, recording; the
    recording folder and the session's journal."""
    rec = tmp / "rec"
    cfg = load_config(_config(tmp, ROOT / "data/sample", rec))
    p = plan(cfg, DAY, DAY, out=tmp / "live")
    p = dataclasses.replace(p, cfg=p.cfg.model_copy(update={"record": cfg.record}),
                            end=p.start + SPAN)  # fmt: skip
    code, _ = asyncio.run(replay(p, timeout=120))
    assert code == 0
    return rec, p.journal_path


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, Path]:
    """(the recording, the session's journal, the backtest's journal, the backtest's own
    recording: what its strategies got)."""
    tmp = tmp_path_factory.mktemp("recording")
    rec, live_journal = _recorded_session(tmp)
    bt, again = tmp / "bt", tmp / "again"
    bt.mkdir()
    p = plan(load_config(_config(bt, rec, None)), DAY, DAY, out=bt / "out")
    record = RecordConfig(dir=again, flush=1.0)
    p = dataclasses.replace(p, cfg=p.cfg.model_copy(update={"record": record}),
                            end=p.start + SPAN)  # fmt: skip
    result = run_backtest(p, progress=False)
    assert result.code == 0, result.stop_reason
    return rec, live_journal, p.journal_path, again


def test_the_session_is_recorded_per_symbol_kind_and_day(session: Any) -> None:
    rec = session[0]
    assert is_recording(rec)
    for symbol, kind in BAR_KINDS.items():
        assert kind in kinds(rec, symbol)
        bars = read_kind(rec, symbol, kind)
        assert bars["live"].any() and not bars["live"].all()  # warm-up, then live
        days = {p.name for p in (rec / symbol / kind).iterdir()}
        assert f"{DAY}" in days and len(days) >= 2  # one folder per UTC day
    rt = read_kind(rec, "AAPL", "rt-TRADES")  # the 5-second bars as they came
    steps = rt["time"].diff().dropna()
    assert len(rt) >= 2 * 60 * 12 - 12 and (steps >= pd.Timedelta(seconds=5)).all()
    trades = read_kind(rec, "NVDA", "ticks-AllLast")  # tick-by-tick trades
    assert len(trades) > 1000 and trades["bid"].isna().all() and (trades["last"] > 0).all()
    assert "ticks-AllLast" not in kinds(rec, "AAPL")


def test_a_backtest_over_the_recording_gives_the_same_bars_and_fills(session: Any) -> None:
    rec, live_journal, bt_journal, again = session
    for symbol, kind in BAR_KINDS.items():
        live, replayed = read_kind(rec, symbol, kind), read_kind(again, symbol, kind)
        pd.testing.assert_frame_equal(live, replayed, check_exact=True)
    live_fills = _fills(live_journal)
    assert live_fills, "the session traded nothing: the comparison would be empty"
    sma = [f for f in live_fills if f[1] in ("AAPL", "MSFT")]
    assert sma and sma == [f for f in _fills(bt_journal) if f[1] in ("AAPL", "MSFT")]


def test_a_failing_disk_stops_the_recording_not_the_trading(
    session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    calls = {"n": 0}
    real = recorder_mod.write_table

    def failing(table: Any, path: Path) -> None:
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(28, "No space left on device")
        real(table, path)

    monkeypatch.setattr(recorder_mod, "write_table", failing)
    caplog.set_level(logging.ERROR)
    rec, journal = _recorded_session(tmp_path)
    errors = [r.getMessage() for r in caplog.records if "recording to" in r.getMessage()]
    assert errors and "No space left on device" in errors[0] and "trading goes on" in errors[0]
    assert len(errors) == 1 and calls["n"] == 4  # stopped at the first failure
    assert _fills(journal) == _fills(session[1])  # traded exactly as without the failure
    assert not any(p.name.endswith(".tmp") for p in rec.rglob("*"))  # no half-written part


def test_record_config_errors_name_the_key(tmp_path: Path) -> None:
    path = _config(tmp_path, ROOT / "data/sample", ROOT / "README.md")
    with pytest.raises(ConfigError, match=r"record\.dir: '.*README\.md' is a file"):
        load_config(path)
    text = path.read_text().replace("flush: 1s", "flush: soon")
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"record\.flush: bad interval 'soon'"):
        load_config(path)


def _key(symbol: str = "AAPL") -> Any:
    from bot.market_data.streams import StreamKey

    return StreamKey(symbol, 1, "1 min", 60, "TRADES", True)


def _bar(minute: int, close: float = 10.0) -> Any:
    from datetime import UTC, datetime, timedelta

    from bot.model.events import Bar

    t = datetime(2026, 10, 30, 23, 58, tzinfo=UTC) + timedelta(minutes=minute)
    return Bar("AAPL", t, close, close, close, close, 100.0, 60)


def test_rows_wait_in_memory_until_a_flush_and_a_clean_close_writes_the_rest(
    tmp_path: Path,
) -> None:
    from bot.market_data.recorder import Recorder

    rec = Recorder.open(tmp_path, flush_s=3600, batch_rows=1_000_000)
    for m in range(4):  # two before midnight UTC, two after: two day folders
        rec.bar(_key(), _bar(m), live=True)
    assert not list(tmp_path.rglob("*.parquet"))  # the hot path only buffered them
    rec.close()
    days = sorted(p.name for p in (tmp_path / "AAPL" / "1min-TRADES-rth").iterdir())
    assert days == ["2026-10-30", "2026-10-31"]
    assert len(list(tmp_path.rglob("*.parquet"))) == 2  # one file a day folder
    rec.bar(_key(), _bar(9), live=True)  # after close: ignored
    assert len(read_kind(tmp_path, "AAPL", "1min-TRADES-rth")) == 4
    # A second session into the same folder adds parts; a bar recorded again counts once,
    # the newest copy winning.
    again = Recorder.open(tmp_path, flush_s=3600, batch_rows=2)
    again.bar(_key(), _bar(3, close=11.0), live=False)
    again.bar(_key(), _bar(4), live=True)  # the second row: a full batch wakes the writer
    again.close()
    bars = read_kind(tmp_path, "AAPL", "1min-TRADES-rth")
    assert len(bars) == 5 and bars["close"].tolist() == [10.0, 10.0, 10.0, 11.0, 10.0]
    assert rec.rows_written == 4 and again.rows_written == 2


def test_a_recording_folder_that_cannot_be_made_leaves_the_recorder_stopped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.market_data.recorder import Recorder

    (tmp_path / "file").write_text("x")
    caplog.set_level(logging.ERROR)
    rec = Recorder.open(tmp_path / "file" / "rec")
    rec.bar(_key(), _bar(0), live=True)  # no error, nothing kept
    rec.close()
    assert rec.failed and "recording to" in caplog.text


def test_run_record_flag_refuses_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    path = _config(tmp_path, ROOT / "data/sample", None)
    assert main(["run", str(path), "--record", str(ROOT / "README.md")]) == 2
    assert "--record" in capsys.readouterr().err


def test_run_record_flag_sets_the_record_block(tmp_path: Path) -> None:
    from bot.commands.run import with_record

    cfg = load_config(_config(tmp_path, ROOT / "data/sample", tmp_path / "a"))
    moved = with_record(cfg, tmp_path / "b")
    assert cfg.record is not None and moved.record is not None
    assert moved.record.dir == tmp_path / "b" and moved.record.flush == cfg.record.flush
    plain = load_config(_config(tmp_path, ROOT / "data/sample", None))
    assert with_record(plain, tmp_path / "c").record == RecordConfig(dir=tmp_path / "c")


def test_a_bad_row_in_the_hot_path_stops_the_recording_and_reaches_no_caller(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from types import SimpleNamespace

    from bot.market_data.recorder import Recorder

    rec = Recorder.open(tmp_path, flush_s=3600)
    caplog.set_level(logging.ERROR)
    got: list[Any] = []
    on_bar = rec.wrap_bars(lambda key, bar, live: got.append(bar))
    on_bar(_key(), _bar(0), True)
    rec.rt_bar(_key(), SimpleNamespace(time=None))  # no time: cannot be recorded
    on_bar(_key(), _bar(1), True)  # still handed on, no longer recorded
    rec.close()
    assert len(got) == 2 and rec.failed and "recording to" in caplog.text


def _tick(second: int) -> Any:
    from datetime import UTC, datetime, timedelta

    from bot.model.events import Tick

    t = datetime(2026, 10, 30, 15, tzinfo=UTC) + timedelta(seconds=second // 2)
    return Tick("AAPL", t, math.nan, math.nan, 10.0, last_size=100.0)  # repeated prints: real


def test_a_sessions_parts_are_merged_and_a_merge_cut_short_duplicates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.market_data.recorder import Recorder

    monkeypatch.setattr(recorder_mod, "COMPACT_AT", 3)
    rec = Recorder.open(tmp_path / "a", flush_s=3600)
    day = tmp_path / "a" / "AAPL" / "ticks" / "2026-10-30"
    for n in range(6):
        rec.tick(_tick(n))
        rec.flush()  # a part each time; at three of them, they are merged into one
    names = sorted(p.name for p in day.iterdir())
    assert len(names) == 2 and names[0].endswith("-000005m.parquet")  # parts 1-5, then 6
    rec.close()
    assert len(list(day.iterdir())) == 1 and len(read_kind(tmp_path / "a", "AAPL", "ticks")) == 6
    # A crash between writing a merge and deleting its parts: the merged file stands for them.
    monkeypatch.setattr(recorder_mod, "COMPACT_AT", 100)
    rec = Recorder.open(tmp_path / "b", flush_s=3600)
    day = tmp_path / "b" / "AAPL" / "ticks" / "2026-10-30"
    for n in range(4):
        rec.tick(_tick(n))
        rec.flush()
    parts = {p: p.read_bytes() for p in day.iterdir()}
    rec.close()  # the merge
    for p, data in parts.items():
        p.write_bytes(data)  # as if their deletion never happened
    assert len(list(day.iterdir())) == 5
    ticks = read_kind(tmp_path / "b", "AAPL", "ticks")
    assert len(ticks) == 4  # every tick once, the identical prints included


def test_a_dropped_connection_does_not_end_the_recording(tmp_path: Path) -> None:
    from bot.live.daemon import Daemon
    from bot.market_data.recorder import Recorder

    daemon = Daemon(load_config(_config(tmp_path, ROOT / "data/sample", None)))
    daemon.recorder = rec = Recorder.open(tmp_path / "rec", flush_s=3600)
    daemon.drop_connection()  # the supervisor's, before a maintenance window or a reconnect
    rec.bar(_key(), _bar(0), live=True)
    rec.close()
    assert len(read_kind(tmp_path / "rec", "AAPL", "1min-TRADES-rth")) == 1
