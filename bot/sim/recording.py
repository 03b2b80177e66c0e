"""Reading a recording (bot/market_data/recorder.py) back: the replay's bars, and the ticks.

``gateway: {data: DIR}`` on a recording folder (one with ``recording.json``) makes
``ibbot backtest`` replay, per symbol, the bars its strategies got in the recorded session
(warm-up and live): the finest recorded bar size of the price the simulated market is built
from (TRADES, MIDPOINT for forex), all-hours bars before regular-hours-only ones, or the
``gateway.bar_size`` asked for. A strategy on that bar size then gets the recorded bars again,
one for one; coarser ones are aggregated from them, as from any data. Ticks and 5-second bars
are recorded for research (``read_kind``): the simulated market derives its own ticks from
the bars, as it does for any data.

A recording that several sessions (or a crash) left behind reads as one: parts are read in
order, a merged file stands for the parts it covers, and a bar recorded twice (a warm-up
repeating the end of the last session) counts once, the newest copy winning.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from bot.sim.datafile import COLUMNS, SourceBars, bar_name_seconds, frame_bars
from bot.sim.instruments import Instrument

_PART = re.compile(r"(?P<session>.+)-(?P<seq>[0-9]{6,})(?P<merged>m?)\.parquet")
_REPLAYED = {"CASH": "MIDPOINT"}  # sec type -> the price its source bars are (else TRADES)

MANIFEST = "recording.json"  # marks a folder as a recording (bot/market_data/recorder.py)


def is_recording(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def kinds(folder: Path, symbol: str) -> list[str]:
    """What was recorded of ``symbol``: ``1min-TRADES``, ``rt-TRADES``, ``ticks-AllLast`` ..."""
    base = folder / symbol
    return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


def read_kind(folder: Path, symbol: str, kind: str) -> pd.DataFrame:
    """Every row of one kind, in time order (a row recorded twice: the newest copy)."""
    parts = _uncovered(sorted((folder / symbol / kind).glob("*/*.parquet")))
    if not parts:
        raise FileNotFoundError(f"{folder / symbol / kind}: nothing recorded")
    frame = pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True)
    if kind.startswith("ticks"):  # every tick is an event of its own, repeats included
        return frame.sort_values("time", kind="stable", ignore_index=True)
    frame = frame.drop_duplicates("time", keep="last")
    return frame.sort_values("time", kind="stable", ignore_index=True)


def _uncovered(parts: list[Path]) -> list[Path]:
    """``parts`` without the files a merged one covers (bot/market_data/recorder.py ``part_name``:
    left behind when a crash cut a merge short)."""
    top: dict[tuple[Path, str], int] = {}  # (day folder, session) -> newest merged seq
    names = {p: _PART.fullmatch(p.name) for p in parts}
    for p, m in names.items():
        if m is not None and m["merged"]:
            key = (p.parent, m["session"])
            top[key] = max(top.get(key, -1), int(m["seq"]))
    keep = []
    for p, m in names.items():
        if m is not None and (covers := top.get((p.parent, m["session"]))) is not None:
            seq = int(m["seq"])
            if seq < covers or (seq == covers and not m["merged"]):
                continue
        keep.append(p)
    return keep


def replay_kind(folder: Path, inst: Instrument, bar_seconds: int | None = None) -> str | None:
    """The bar kind replayed for ``inst`` (see module doc); None: no bars of its price."""
    what = _REPLAYED.get(inst.sec_type, "TRADES")
    found: list[tuple[int, bool, str]] = []
    for kind in kinds(folder, inst.local_symbol):
        size, _, rest = kind.partition("-")
        seconds = bar_name_seconds(size)
        if seconds is None or rest not in (what, f"{what}-rth"):
            continue
        if bar_seconds is None or seconds == bar_seconds:
            found.append((seconds, rest.endswith("-rth"), kind))
    return min(found)[2] if found else None


def recorded_bars(
    folder: Path, inst: Instrument, bar_seconds: int | None = None
) -> SourceBars | None:
    """``inst``'s replayed bars as checked source bars (bot/sim/datafile.py); None: none."""
    kind = replay_kind(folder, inst, bar_seconds)
    if kind is None:
        return None
    size = bar_name_seconds(kind.partition("-")[0])
    assert size is not None
    frame = read_kind(folder, inst.local_symbol, kind)
    return frame_bars(frame[list(COLUMNS)], folder / inst.local_symbol / kind, inst, size)
