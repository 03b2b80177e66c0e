"""``ibbot data download`` against the embedded simulated gateway (IB's pacing rules on): a
download, an incremental run asking only for the missing ranges, a Ctrl-C mid-way resumed with
nothing lost or duplicated, no 162 answered, ADJUSTED_LAST replacing its file, daily bars at
their session's open, and bad symbols and flags (exit 2, nothing written). Plus the plan's
windows and the governor's ETA without a gateway.

The shipped sample (data/sample): 22 trading days of 1-minute bars, 2026-10-01 to 2026-10-30,
regular hours, 26 fifteen-minute bars a day. New York is UTC-4 then: 09:30 is 13:30 UTC.
"""

from __future__ import annotations

import itertools
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from bot.cli import main
from bot.gateway import handlers
from bot.gateway import inbound as req
from bot.gateway.session import Session
from bot.market_data.history_pacing import HistoryGovernor, HistoryKey, HistoryLimits
from bot.research.data import download_progress
from bot.research.data.download_plan import RangeSpec, Window, plan_windows

NOW = datetime(2026, 10, 30, 20, 0, tzinfo=UTC)
DAYS, PER_DAY = 22, 26  # the sample's trading days; 15-minute bars in a regular session


@dataclass
class Wire:
    """What the simulated gateway received and answered with an error."""

    requests: list[req.ReqHistoricalData] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)

    def clear(self) -> None:
        self.requests.clear()
        self.errors.clear()


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Iterator[Wire]:
    seen = Wire()
    handle = handlers.HANDLERS[req.ReqHistoricalData]

    def historical(s: Session, r: req.ReqHistoricalData) -> None:
        seen.requests.append(r)
        handle(s, r)

    error = Session.error

    def recording_error(self: Session, req_id: int, code: int, text: str) -> None:
        seen.errors.append((code, text))
        error(self, req_id, code, text)

    monkeypatch.setitem(handlers.HANDLERS, req.ReqHistoricalData, historical)
    monkeypatch.setattr(Session, "error", recording_error)
    yield seen


def download(store: Path, *args: str) -> int:
    return main(["data", "download", *args, "--embedded", "--store", str(store)])


def stored(store: Path, symbol: str, name: str = "15min") -> pd.DataFrame:
    return pd.read_parquet(store / symbol / f"{name}.parquet")


def no_162(w: Wire) -> None:
    assert [e for e in w.errors if e[0] == 162] == []


def test_download_fills_the_store_in_one_week_windows_without_a_162(
    tmp_path: Path, wire: Wire, capsys: pytest.CaptureFixture[str]
) -> None:
    assert download(tmp_path, "AAPL", "MSFT", "--bar", "15min", "--duration", "1M") == 0
    for symbol in ("AAPL", "MSFT"):
        frame = stored(tmp_path, symbol)
        assert len(frame) == DAYS * PER_DAY and frame["time"].is_unique
        assert frame["time"].is_monotonic_increasing
        assert frame["time"].iloc[0] == pd.Timestamp("2026-10-01 13:30", tz="UTC")
        assert frame["time"].iloc[-1] == pd.Timestamp("2026-10-30 19:45", tz="UTC")
    # per symbol, four weeks back from the end, then the 2 days left to the first bar IB has
    # (the two symbols' requests interleave in whatever order the pacing lets them through)
    for symbol in ("AAPL", "MSFT"):
        asked = [r.duration for r in wire.requests if r.contract.symbol == symbol]
        assert asked == ["1 W"] * 4 + ["2 D"], symbol
    assert all(r.bar_size == "15 mins" and r.what_to_show == "TRADES" for r in wire.requests)
    no_162(wire)
    out = capsys.readouterr().out
    assert "AAPL 15min TRADES: 5 requests (5 back to 2026-10-01 13:30 UTC)" in out
    assert "10 requests in all" in out
    row = next(line.split() for line in out.splitlines() if line.endswith("AAPL/15min.parquet"))
    assert row[1:4] == ["5", str(DAYS * PER_DAY), "0"] and "done" in row


def test_second_run_asks_only_for_the_missing_ranges(tmp_path: Path, wire: Wire) -> None:
    reference = tmp_path / "reference"
    assert download(reference, "AAPL", "--bar", "15min", "--duration", "1M") == 0
    full = stored(reference, "AAPL")
    # A store downloaded earlier, holding 2026-10-08 .. 2026-10-23 only.
    store = tmp_path / "store"
    part = full[(full["time"] >= "2026-10-08") & (full["time"] < "2026-10-24")]
    (store / "AAPL").mkdir(parents=True)
    part.to_parquet(store / "AAPL" / "15min.parquet", index=False)
    first, last = part["time"].iloc[0], part["time"].iloc[-1]
    wire.clear()
    assert download(store, "AAPL", "--bar", "15min", "--duration", "1M") == 0
    ends = [pd.Timestamp(r.end.removesuffix(" UTC"), tz="UTC") for r in wire.requests]
    spans = [(e - pd.Timedelta(r.duration.replace(" W", "W")), e) for r, e in
             zip(wire.requests, ends, strict=True) if r.duration.endswith("W")]  # fmt: skip
    forward = [e for e in ends if e > last]
    backward = [e for e in ends if e <= first]
    assert len(forward) + len(backward) == len(ends)  # nothing inside the stored range
    assert backward[0] == first and forward[0] == last + pd.Timedelta(weeks=1)
    assert all(start >= last or end <= first for start, end in spans)
    assert len(wire.requests) == 3  # a week after it, a week and the rest before it
    no_162(wire)
    pd.testing.assert_frame_equal(stored(store, "AAPL"), full)


def test_ctrl_c_mid_way_keeps_what_arrived_and_the_next_run_resumes(
    tmp_path: Path, wire: Wire, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    reference = tmp_path / "reference"
    assert download(reference, "AAPL", "MSFT", "--bar", "5min", "--duration", "1M") == 0
    step = download_progress.Progress.step
    windows = 0

    def interrupt_after_three(self: download_progress.Progress) -> None:
        nonlocal windows
        step(self)
        windows += 1
        if windows == 3:  # as Ctrl-C does: asyncio.run cancels the command's task
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(download_progress.Progress, "step", interrupt_after_three)
    store = tmp_path / "store"
    capsys.readouterr()
    assert download(store, "AAPL", "MSFT", "--bar", "5min", "--duration", "1M") == 1
    captured = capsys.readouterr()
    assert "interrupted: every window that arrived is stored" in captured.err
    assert "partial" in captured.out
    kept = sum(len(stored(store, s, "5min")) for s in ("AAPL", "MSFT") if
               (store / s / "5min.parquet").exists())  # fmt: skip
    assert 0 < kept < 2 * DAYS * PER_DAY * 3
    monkeypatch.setattr(download_progress.Progress, "step", step)
    wire.clear()
    assert download(store, "AAPL", "MSFT", "--bar", "5min", "--duration", "1M") == 0
    for symbol in ("AAPL", "MSFT"):
        pd.testing.assert_frame_equal(stored(store, symbol, "5min"),
                                      stored(reference, symbol, "5min"))  # fmt: skip
    no_162(wire)


def test_pacing_window_binds_and_nothing_is_refused(tmp_path: Path, wire: Wire) -> None:
    # 90 requests of 1-minute bars (a day each): more than the 60 of one window, which
    # --pacing-scale 0.005 shortens to 3 s on both sides.
    args = ["AAPL", "MSFT", "NVDA", "--bar", "1min", "--duration", "1M", "--pacing-scale", "0.005"]
    assert download(tmp_path, *args) == 0
    assert len(wire.requests) == 90
    pacing = [e for e in wire.errors if "pacing" in e[1].lower()]
    assert pacing == []
    assert all(len(stored(tmp_path, s, "1min")) == DAYS * 390 for s in ("AAPL", "MSFT", "NVDA"))


def test_adjusted_last_is_one_request_without_end_date_replacing_its_file(
    tmp_path: Path, wire: Wire, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["AAPL", "--bar", "1day", "--duration", "1M", "--what", "ADJUSTED_LAST"]
    assert download(tmp_path, *args) == 0
    assert download(tmp_path, *args) == 0
    assert [(r.end, r.duration, r.what_to_show) for r in wire.requests] == [
        ("", "1 M", "ADJUSTED_LAST")
    ] * 2
    frame = stored(tmp_path, "AAPL", "1day-adjusted_last")
    assert len(frame) == DAYS and frame["time"].is_unique
    assert not (tmp_path / "AAPL" / "1day.parquet").exists()  # TRADES untouched
    out = capsys.readouterr().out
    assert "without an end date" in out and "replaces its file" in out


def test_daily_bars_are_stored_at_each_session_open(tmp_path: Path, wire: Wire) -> None:
    assert download(tmp_path, "AAPL", "--bar", "1day", "--duration", "1M") == 0
    times = stored(tmp_path, "AAPL", "1day")["time"]
    assert len(times) == DAYS
    assert set(times.dt.strftime("%H:%M")) == {"13:30"}  # 09:30 New York
    no_162(wire)


def test_a_symbol_that_does_not_qualify_exits_2_with_nothing_written(
    tmp_path: Path, wire: Wire, capsys: pytest.CaptureFixture[str]
) -> None:
    assert download(tmp_path, "AAPL", "NOPE", "--bar", "15min", "--duration", "1M") == 2
    err = capsys.readouterr().err
    assert "NOPE: IB knows no STK NOPE on SMART in USD" in err and "Nothing downloaded" in err
    assert wire.requests == [] and not tmp_path.joinpath("AAPL").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--duration", "0Y"], "--duration '0Y': expected a positive count"),
        (["--duration", "1 fortnight"], "--duration '1 fortnight': expected a positive count"),
        (["--duration", "1Y", "--what", "ADJUSTED_LAST"],
         "one request of 15min bars covers at most 1 W"),
        (["--duration", "1M", "--pacing-scale", "0"], "--pacing-scale 0: expected 0 < F <= 1"),
        (["--duration", "1M", "--pacing-scale", "0.5", "--port", "1"],
         "--pacing-scale changes the simulated gateway's rules"),
    ],
)  # fmt: skip
def test_bad_flags_exit_2_before_connecting(
    flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # port 1 has nothing listening: reaching it would exit 1, not 2
    args = ["data", "download", "AAPL", "--bar", "15min", "--store", str(tmp_path), *flags]
    assert main([*args] if "--port" in flags else [*args, "--port", "1"]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--bar", "2min", "--duration", "1M"], "argument --bar: invalid choice: '2min'"),
        (["--bar", "15min", "--duration", "1M", "--what", "BID_ASK"],
         "argument --what: invalid choice: 'BID_ASK'"),
        (["--bar", "15min"], "the following arguments are required: --duration"),
    ],
)  # fmt: skip
def test_bad_choices_are_argparse_errors(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as e:
        main(["data", "download", "AAPL", *flags, "--port", "1"])
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_daily_bars_of_a_symbol_without_sessions_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["data", "download", "ZZZZ", "--bar", "1day", "--duration", "1Y", "--port", "1"]
    assert main([*args, "--store", str(tmp_path)]) == 2
    assert "ZZZZ: daily bars are stored at each session's open" in capsys.readouterr().err


# ---- the plan and the ETA, without a gateway -----------------------------------------------


def covered(windows: list[Window]) -> list[tuple[datetime, datetime]]:
    return [(w.end - timedelta(weeks=int(w.duration.split()[0])), w.end) for w in windows
            if w.duration.endswith(" W")]  # fmt: skip


def test_plan_steps_back_from_now_in_whole_chunks_then_the_rest() -> None:
    start = NOW - timedelta(days=30)
    windows = plan_windows(900, start, NOW, None, None)
    assert [w.duration for w in windows] == ["1 W"] * 4 + ["3 D"]
    assert [w.end for w in windows] == [NOW - timedelta(weeks=i) for i in range(5)]
    spans = covered(windows)
    assert all(a[0] == b[1] for a, b in itertools.pairwise(spans))  # no gap, no overlap
    assert not any(w.forward for w in windows)


def test_plan_around_stored_bars_goes_forward_from_the_last_and_back_from_the_first() -> None:
    first, last = NOW - timedelta(days=20), NOW - timedelta(days=9)
    windows = plan_windows(900, NOW - timedelta(days=30), NOW, first, last)
    assert [(w.end, w.duration, w.forward) for w in windows] == [
        (last + timedelta(weeks=1), "1 W", True),
        (NOW, "3 D", True),
        (first, "1 W", False),
        (first - timedelta(weeks=1), "4 D", False),
    ]


def test_plan_is_empty_when_the_store_holds_the_range() -> None:
    last = NOW - timedelta(minutes=15)
    assert plan_windows(900, NOW - timedelta(days=30), NOW, NOW - timedelta(days=30), last) == []


def test_plan_of_one_minute_bars_uses_days_in_seconds() -> None:
    windows = plan_windows(60, NOW - timedelta(days=3), NOW, None, None)
    assert [w.duration for w in windows] == ["86400 S"] * 3


@pytest.mark.parametrize(("text", "start"), [("1Y", "2025-10-30"), ("6M", "2026-04-30"),
                                             ("2 W", "2026-10-16"), ("30d", "2026-09-30")])
def test_range_spec(text: str, start: str) -> None:
    assert RangeSpec.parse(text).start(NOW).date().isoformat() == start


def test_eta_is_the_window_rule_over_the_requests_left() -> None:
    clock = [1000.0]
    governor = HistoryGovernor(HistoryLimits(), clock=lambda: clock[0])
    assert governor.eta(60) == 0.0
    assert governor.eta(61) == 600.0 and governor.eta(121) == 1200.0
    for i in range(30):
        governor._record(HistoryKey(1, "SMART", "TRADES", "1 min", "1 D", str(i), False), 1000.0)
    clock[0] = 1100.0
    assert governor.eta(30) == 0.0 and governor.eta(31) == 500.0


def test_scaled_limits_scale_every_time_rule_alike() -> None:
    from bot.gateway.pacing_rules import PacingLimits

    g, p = HistoryLimits().scaled(0.01), PacingLimits().scaled(0.01)
    assert (g.window_s, g.identical_s, g.same_contract_s) == pytest.approx((6, 0.15, 0.02))
    assert (p.window_seconds, p.identical_seconds, p.same_contract_seconds) == pytest.approx(
        (6, 0.15, 0.02)
    )
    assert (g.window_requests, p.window_requests, g.max_open) == (60, 60, 50)
