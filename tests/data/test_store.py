"""The Parquet store: merging bars (the function a downloader appends with), ``ibbot data
import`` with good and bad files, ``ibbot data list``, and the market reading the store layout.

Dates: New York is on daylight time (UTC-4) until Sunday 2026-11-01: 09:30 is 13:30 UTC.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest

from bot.cli import main
from bot.config.gateway import GatewaySettings
from bot.research.data.store import list_store, merge_bars, store_path
from bot.sim.datafile import DataFileError, bar_name, find_file, named_bar_seconds
from bot.sim.instruments import DEFAULT_INSTRUMENTS_FILE, Instruments
from bot.sim.market import Market

INSTRUMENTS = Instruments.load(DEFAULT_INSTRUMENTS_FILE)
AAPL = INSTRUMENTS.by_symbol("AAPL")
ROOT = Path(__file__).resolve().parents[2]


def bars(times: list[str], close: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"time": pd.to_datetime(times, utc=True), "open": close, "high": close,
                         "low": close, "close": close, "volume": [10.0] * len(close)})  # fmt: skip


def minutes(start: str, n: int, price: float = 100.0) -> str:
    t0 = pd.Timestamp(start)
    rows = [f"{(t0 + pd.Timedelta(minutes=i)).isoformat()},{price},{price + 1},{price - 1},"
            f"{price},100" for i in range(n)]  # fmt: skip
    return "time,open,high,low,close,volume\n" + "\n".join(rows) + "\n"


def test_merge_appends_dedupes_by_time_and_keeps_order(tmp_path: Path) -> None:
    path = tmp_path / "AAPL" / "1min.parquet"
    first = merge_bars(path, bars(["2026-10-01T13:31Z", "2026-10-01T13:30Z"], [2.0, 1.0]))
    assert (first.added, first.replaced, first.rows) == (2, 0, 2)
    # overlaps the last stored bar (a re-fetch of one in progress) and adds two, out of order
    second = merge_bars(path, bars(["2026-10-01T13:33Z", "2026-10-01T13:31Z",
                                    "2026-10-01T13:32Z"], [4.0, 2.5, 3.0]))  # fmt: skip
    assert (second.added, second.replaced, second.rows) == (2, 1, 4)
    stored = pd.read_parquet(path)
    assert stored["close"].tolist() == [1.0, 2.5, 3.0, 4.0]  # the newer copy of 13:31 won
    assert stored["time"].is_monotonic_increasing and stored["time"].is_unique
    again = merge_bars(path, bars(["2026-10-01T13:30Z"], [1.0]))
    assert (again.added, again.rows) == (0, 4)
    assert not list(path.parent.glob(".*.tmp"))  # replaced atomically, nothing left over
    with pytest.raises(ValueError, match="volume"):
        merge_bars(path, bars(["2026-10-01T13:34Z"], [5.0]).drop(columns="volume"))


def test_concurrent_writers_never_leave_a_torn_file(tmp_path: Path) -> None:
    """Two writers merging into one file at once (a download and an interrupted one's last
    write): each file the readers see is whole, and no temporary file is left behind."""
    path = tmp_path / "AAPL" / "1min.parquet"
    merge_bars(path, bars(["2026-10-01T13:30Z"], [1.0]))

    errors: list[BaseException] = []

    def write(offset: int) -> None:
        try:
            for k in range(15):
                merge_bars(path, bars([f"2026-10-0{2 + offset}T13:{30 + k}Z"], [1.0]))
        except Exception as e:  # a shared temporary name: renamed away under the other
            errors.append(e)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        with path.open("rb") as f:  # one open: the inode the path named then
            assert len(pd.read_parquet(f)) >= 1  # raises on a torn file
    for t in threads:
        t.join()
    assert not errors
    assert 2 <= len(pd.read_parquet(path)) <= 31
    assert [p.name for p in path.parent.iterdir()] == ["1min.parquet"]


def test_bar_names_round_trip() -> None:
    for seconds, name in [(5, "5s"), (60, "1min"), (900, "15min"), (3600, "1h"), (86400, "1day")]:
        assert bar_name(seconds) == name
        assert named_bar_seconds(Path(f"X/{name}.parquet")) == seconds
    assert named_bar_seconds(Path("AAPL.parquet")) is None


def test_import_then_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    csv = tmp_path / "aapl.csv"
    csv.write_text(minutes("2026-10-01T13:30Z", 30))
    assert main(["data", "import", str(csv), "--symbol", "AAPL", "--store", str(store)]) == 0
    assert "30 new, 0 replaced, 30 in all" in capsys.readouterr().out
    csv2 = tmp_path / "more.csv"  # 10 overlapping minutes and 10 new ones
    csv2.write_text(minutes("2026-10-01T13:50Z", 20, 101.0))
    assert main(["data", "import", str(csv2), "--symbol", "AAPL", "--store", str(store)]) == 0
    assert "10 new, 10 replaced, 40 in all" in capsys.readouterr().out
    (f,) = list_store(store)
    assert (f.symbol, f.bar_seconds, f.rows) == ("AAPL", 60, 40)
    assert main(["data", "list", "--store", str(store)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["symbol", "bar", "first", "(UTC)", "last", "(UTC)", "rows"]
    assert out[2].split() == ["AAPL", "1min", "2026-10-01", "13:30", "2026-10-01", "14:09", "40"]


def test_import_reads_naive_times_in_the_given_zone(tmp_path: Path) -> None:
    csv = tmp_path / "aapl.csv"
    csv.write_text(minutes("2026-10-01T09:30", 3))  # New York wall clock, no offset
    store = tmp_path / "store"
    code = main(["data", "import", str(csv), "--symbol", "AAPL", "--store", str(store),
                 "--tz", "America/New_York"])  # fmt: skip
    assert code == 0
    stored = pd.read_parquet(store_path(store, "AAPL", 60))
    assert stored["time"].iloc[0] == pd.Timestamp("2026-10-01T13:30Z")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("when,open,high,low,close,volume\n2026-10-01T13:30Z,1,2,1,2,5\n",
         "bad.csv: missing column 'time'"),
        ("time,open,high,low,close\n2026-10-01T13:30Z,1,2,1,2\n", "missing column 'volume'"),
        ("time,open,high,low,close,volume\n2026-10-01T13:31Z,1,2,1,2,5\n"
         "2026-10-01T13:30Z,1,2,1,2,5\n",
         "bad.csv: row 2 (line 3), column 'time': not after the previous row's time"),
        ("time,open,high,low,close,volume\n2026-10-01T13:30Z,1,2,1,2,5\n"
         "2026-10-01T13:31Z,1,2,1,-2,5\n",
         "bad.csv: row 2 (line 3), column 'close': price must be > 0"),
        ("time,open,high,low,close,volume\n2026-10-01T13:30Z,1,2,1,x,5\n",
         "bad.csv: row 1 (line 2), column 'close': not a number: 'x'"),
    ],
)  # fmt: skip
def test_import_refuses_bad_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    store = tmp_path / "store"
    assert main(["data", "import", str(bad), "--symbol", "AAPL", "--store", str(store)]) == 2
    assert message in capsys.readouterr().err
    assert not store.exists()  # nothing written


def test_import_refuses_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "a.csv"
    csv.write_text(minutes("2026-10-01T13:30Z", 2))
    assert main(["data", "import", str(csv), "--symbol", "NOPE", "--store", str(tmp_path)]) == 2
    assert "unknown symbol 'NOPE'" in capsys.readouterr().err
    assert main(["data", "import", str(csv), "--symbol", "AAPL", "--tz", "Nowhere/X"]) == 2
    assert "--tz 'Nowhere/X': unknown time zone" in capsys.readouterr().err
    assert main(["data", "import", str(tmp_path / "none.csv"), "--symbol", "AAPL"]) == 2
    assert "none.csv: no such file" in capsys.readouterr().err
    assert main(["data", "list", "--store", str(tmp_path / "nothing")]) == 2
    assert "no such store" in capsys.readouterr().err


def test_market_reads_the_store_finest_or_the_asked_bar_size(tmp_path: Path) -> None:
    store = tmp_path / "store"
    for seconds, n in ((60, 60), (300, 12)):
        t = pd.date_range("2026-10-01T13:30Z", periods=n, freq=f"{seconds}s")
        merge_bars(store_path(store, "AAPL", seconds), bars([x.isoformat() for x in t],
                                                             [100.0] * n))  # fmt: skip
    one = Instruments([AAPL])
    assert find_file(store, "AAPL") == store / "AAPL" / "1min.parquet"
    assert Market.load(store, one, 1).bar_seconds(AAPL.con_id) == 60
    assert Market.load(store, one, 1, 300).bar_seconds(AAPL.con_id) == 300
    with pytest.raises(DataFileError, match=r"AAPL: no 1h\.parquet \(has 1min\.parquet, 5min"):
        Market.load(store, one, 1, 3600)


def test_a_daily_store_file_of_one_row_is_daily(tmp_path: Path) -> None:
    store = tmp_path / "store"
    merge_bars(store_path(store, "AAPL", 86400), bars(["2026-10-01T13:30Z"], [100.0]))
    market = Market.load(store, Instruments([AAPL]), 1)
    assert market.bar_seconds(AAPL.con_id) == 86400


def test_config_bar_size_is_an_ib_bar_size() -> None:
    g = GatewaySettings.model_validate({"data": str(ROOT / "data/sample"),
                                        "instruments": str(DEFAULT_INSTRUMENTS_FILE),
                                        "bar_size": "5 mins"})  # fmt: skip
    assert g.bar_seconds == 300
    with pytest.raises(ValueError, match="bad bar size '5 min'"):
        GatewaySettings.model_validate({"data": str(ROOT / "data/sample"),
                                        "bar_size": "5 min"})  # fmt: skip


def test_a_backtest_plans_on_the_store_as_on_the_flat_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import date

    from bot.backtest.runner import plan
    from bot.config.load import load_config

    monkeypatch.chdir(ROOT)
    store = tmp_path / "store"
    for sym in ("AAPL", "MSFT", "NVDA", "AMZN"):  # config/sma_crossover.yaml's symbols
        code = main(["data", "import", f"data/sample/{sym}.csv.gz", "--symbol", sym,
                     "--store", str(store)])  # fmt: skip
        assert code == 0
    assert f"-> {store}/AMZN/1min.parquet" in capsys.readouterr().out
    cfg = load_config(Path("config/sma_crossover.yaml"))
    assert cfg.gateway is not None
    stored = cfg.model_copy(update={"gateway": cfg.gateway.model_copy(update={"data": store})})
    days = date(2026, 10, 20), date(2026, 10, 21)
    a, b = plan(cfg, *days, out=tmp_path / "a"), plan(stored, *days, out=tmp_path / "b")
    assert (a.days, a.start, a.end) == (b.days, b.start, b.end)
    cid = a.instruments["AAPL"].con_id
    bars = [m.history.historical_bars(cid, a.end, "2 D", "15 mins", "TRADES", True, a.end)
            for m in (a.market, b.market)]  # fmt: skip
    assert bars[0] and bars[0] == bars[1]
