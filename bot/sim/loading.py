"""Source bars into per-instrument series: from data files, a recording, or memory."""

from __future__ import annotations

import logging
from pathlib import Path

from bot.sim.datafile import DataFileError, SourceBars, find_file, read_bars
from bot.sim.instruments import Instruments
from bot.sim.recording import is_recording, recorded_bars
from bot.sim.series import Series, build_series

log = logging.getLogger(__name__)


def load_series(
    data_dir: Path | str, instruments: Instruments, bar_seconds: int | None = None
) -> dict[int, Series]:
    """One file per instrument, named by local symbol (AAPL.csv.gz, EUR.USD.csv.gz), or
    the store layout (AAPL/1min.parquet: the ``bar_seconds`` file, else the finest), or a
    recorded session (bot/sim/recording.py)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataFileError(f"{data_dir}: market data directory not found")
    recording = is_recording(data_dir)
    series: dict[int, Series] = {}
    for order, inst in enumerate(instruments):
        if recording:
            bars = recorded_bars(data_dir, inst, bar_seconds)
        else:
            path = find_file(data_dir, inst.local_symbol, bar_seconds)
            bars = None if path is None else read_bars(path, inst)
        if bars is None:  # a recording holds only the symbols its session traded
            say = log.debug if recording else log.warning
            say("no market data for %s in %s", inst.local_symbol, data_dir)
            continue
        series[inst.con_id] = build_series(inst, order, bars)
    if not series:
        names = ", ".join(f"{i.local_symbol}.csv.gz" for i in list(instruments)[:3])
        raise DataFileError(f"{data_dir}: no market data files (expected e.g. {names})")
    return series


def series_from_bars(instruments: Instruments, bars: dict[int, SourceBars]) -> dict[int, Series]:
    """Series over bars already in memory (keyed by conId), e.g. for tests."""
    order = {inst.con_id: n for n, inst in enumerate(instruments)}
    return {
        cid: build_series(instruments.by_con_id(cid), order[cid], sb) for cid, sb in bars.items()
    }
