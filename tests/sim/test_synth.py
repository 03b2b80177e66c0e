"""Synthetic data: sessions, OHLC sanity, volume profile, reproducibility, CLI, shipped sample."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.cli import main
from bot.research.data.synth import synthesize, write_sample
from bot.sim.instruments import DEFAULT_INSTRUMENTS_FILE, Instruments
from bot.sim.market import Market

INSTRUMENTS = Instruments.load(DEFAULT_INSTRUMENTS_FILE)
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
SYMBOLS = ["AAPL", "NVDA", "EUR.USD"]


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return synthesize(SYMBOLS, date(2026, 10, 1), 3, 60, 5, INSTRUMENTS)


def test_sessions_stocks_rth_forex_all_week(frames: dict[str, pd.DataFrame]) -> None:
    aapl = pd.to_datetime(frames["AAPL"]["time"], utc=True).dt.tz_convert("US/Eastern")
    assert len(aapl) == 3 * 390
    assert sorted({d.isoformat() for d in aapl.dt.date}) == [
        "2026-10-01",
        "2026-10-02",
        "2026-10-05",
    ]
    assert aapl.dt.strftime("%H:%M").min() == "09:30" and aapl.dt.strftime("%H:%M").max() == "15:59"
    eur = pd.to_datetime(frames["EUR.USD"]["time"], utc=True)
    assert len(eur) == 3 * 1440
    assert eur.iloc[0] == datetime(2026, 9, 30, 21, tzinfo=UTC)  # Wednesday 17:00 EDT
    assert not ((eur.dt.day_of_week == 5).any())  # nothing on Saturday (UTC)


def test_bars_are_consistent_and_on_the_tick_grid(frames: dict[str, pd.DataFrame]) -> None:
    for name, f in frames.items():
        tick = INSTRUMENTS.by_symbol(name).min_tick
        assert (f.high >= f[["open", "close"]].max(axis=1)).all()
        assert (f.low <= f[["open", "close"]].min(axis=1)).all() and (f.low > 0).all()
        assert (f.volume > 0).all()
        cents = f[["open", "high", "low", "close"]].to_numpy() / tick
        assert np.allclose(cents, np.round(cents))


def test_intraday_volume_is_u_shaped(frames: dict[str, pd.DataFrame]) -> None:
    v = frames["AAPL"]["volume"].to_numpy().reshape(3, 390).mean(axis=0)
    assert v[:30].mean() > 2 * v[150:240].mean() and v[-30:].mean() > 1.3 * v[150:240].mean()


def test_price_levels_and_overnight_gaps(frames: dict[str, pd.DataFrame]) -> None:
    assert frames["AAPL"]["open"].iloc[0] == 230.0 and frames["EUR.USD"]["open"].iloc[0] == 1.09
    days = frames["AAPL"].open.to_numpy().reshape(3, 390)[:, 0]
    closes = frames["AAPL"].close.to_numpy().reshape(3, 390)[:, -1]
    assert (days[1:] != closes[:-1]).all()  # each day opens with a gap


def test_same_seed_same_data_other_seed_other_data(frames: dict[str, pd.DataFrame]) -> None:
    again = synthesize(SYMBOLS, date(2026, 10, 1), 3, 60, 5, INSTRUMENTS)
    assert all(again[k].equals(frames[k]) for k in SYMBOLS)
    other = synthesize(SYMBOLS, date(2026, 10, 1), 3, 60, 6, INSTRUMENTS)
    assert not other["AAPL"].equals(frames["AAPL"])


def test_written_files_are_byte_identical_and_load(tmp_path: Path) -> None:
    args = (["AAPL", "EUR.USD"], date(2026, 10, 1), 2, 60, 9, INSTRUMENTS)
    paths = write_sample(tmp_path / "a", *args)
    write_sample(tmp_path / "b", *args)
    assert [p.name for p in paths] == ["AAPL.csv.gz", "EUR.USD.csv.gz"]
    assert all(p.read_bytes() == (tmp_path / "b" / p.name).read_bytes() for p in paths)
    readme = (tmp_path / "a" / "README.md").read_text()
    assert "SYNTHETIC" in readme and "--seed 9" in readme
    m = Market.load(tmp_path / "a", INSTRUMENTS, seed=1)
    assert m.first_time() == datetime(2026, 9, 30, 21, tzinfo=UTC)


def test_cli_synth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    argv = [
        "data",
        "synth",
        "--out",
        str(out),
        "--symbols",
        "AAPL,MSFT",
        "--days",
        "2",
        "--seed",
        "3",
    ]
    assert main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == ["AAPL.csv.gz", "MSFT.csv.gz", "README.md"]
    assert "synthetic" in capsys.readouterr().out
    assert main(["data", "synth", "--out", str(out), "--symbols", "NOPE"]) == 2
    assert "unknown symbol 'NOPE'" in capsys.readouterr().err
    assert main(["data", "synth", "--out", str(out), "--bar-size", "7", "--symbols", "AAPL"]) == 2


def test_shipped_sample_is_complete_small_and_synthetic() -> None:
    files = sorted(SAMPLE.glob("*.csv.gz"))
    assert {p.name.removesuffix(".csv.gz") for p in files} == {i.local_symbol for i in INSTRUMENTS}
    assert sum(p.stat().st_size for p in files) < 8_000_000
    assert "SYNTHETIC" in (SAMPLE / "README.md").read_text()
    aapl = pd.read_csv(SAMPLE / "AAPL.csv.gz")
    assert len(aapl) == 22 * 390
