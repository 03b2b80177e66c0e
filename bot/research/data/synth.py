"""Synthetic but realistic-looking bars, so the demo and tests need no market data download.

Per symbol: a price level, volatility and average daily volume (real-ish figures for the
shipped symbols, seeded guesses for others); per day a regime (trend up, trend down or range),
a volatility draw and an overnight gap (now and then an earnings-sized one); within the day a
U-shaped volatility and volume profile, and for stocks a shared market factor so that they move
together. Stocks get regular-hours bars only, forex the whole Sunday-to-Friday week.
Everything is a pure function of the seed: the same arguments write byte-identical files.
"""

from __future__ import annotations

import gzip
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from bot.model.price_grid import round_array_to_tick
from bot.sim.instruments import Instrument, Instruments


@dataclass(frozen=True, slots=True)
class Profile:
    price: float  # level at the start
    vol: float  # annualised volatility
    adv: float  # average daily volume (shares; base currency units for forex)


PROFILES: dict[str, Profile] = {
    "AAPL": Profile(230, 0.28, 55e6),
    "MSFT": Profile(430, 0.24, 22e6),
    "NVDA": Profile(135, 0.50, 250e6),
    "AMZN": Profile(190, 0.32, 45e6),
    "INTC": Profile(22, 0.45, 60e6),
    "GOOGL": Profile(170, 0.30, 28e6),
    "META": Profile(580, 0.38, 14e6),
    "TSLA": Profile(250, 0.60, 95e6),
    "AVGO": Profile(170, 0.45, 28e6),
    "COST": Profile(900, 0.20, 2e6),
    "NFLX": Profile(750, 0.35, 3.5e6),
    "AMD": Profile(150, 0.50, 45e6),
    "PEP": Profile(165, 0.17, 6e6),
    "ADBE": Profile(500, 0.32, 3.5e6),
    "CSCO": Profile(55, 0.22, 20e6),
    "QCOM": Profile(165, 0.38, 8e6),
    "TXN": Profile(195, 0.28, 6e6),
    "AMAT": Profile(190, 0.45, 7e6),
    "INTU": Profile(640, 0.30, 1.6e6),
    "AMGN": Profile(310, 0.22, 2.6e6),
    "HON": Profile(215, 0.20, 3.5e6),
    "SBUX": Profile(95, 0.28, 9e6),
    "ISRG": Profile(500, 0.30, 1.5e6),
    "BKNG": Profile(4600, 0.28, 0.25e6),
    "MU": Profile(105, 0.50, 22e6),
    "EUR.USD": Profile(1.09, 0.07, 3e9),
}
MARKET_SHARE = 0.45  # correlation of each stock's minute returns with the market factor


def profile_for(inst: Instrument, seed: int) -> Profile:
    known = PROFILES.get(inst.local_symbol)
    if known:
        return known
    rng = np.random.default_rng([seed, _stable(inst.local_symbol), 7])
    return Profile(float(np.exp(rng.uniform(np.log(15), np.log(600)))), 0.3, 5e6)


def _stable(text: str) -> int:
    return zlib.crc32(text.encode())


def trading_days(start: date, days: int) -> list[date]:
    """The first ``days`` weekdays from ``start`` (no holiday calendar)."""
    out: list[date] = []
    d = start
    while len(out) < days:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def session_grid(inst: Instrument, day: date, bar_size_s: int) -> np.ndarray:
    """Bar start times (epoch s) of one day: regular hours for stocks, all hours otherwise."""
    bounds = inst.liquid_session(day) if inst.sec_type == "STK" else inst.trading_session(day)
    if bounds is None:
        return np.zeros(0, np.int64)
    a, b = (int(x.timestamp()) for x in bounds)
    return np.arange(a, b, bar_size_s, dtype=np.int64)


def _u_shape(n: int, first: float, last: float, floor: float) -> np.ndarray:
    x = np.linspace(0.0, 1.0, n)
    return floor + first * np.exp(-x * 12.0) + last * np.exp(-(1.0 - x) * 10.0)


def synthesize(
    symbols: Sequence[str],
    start: date,
    days: int,
    bar_size_s: int,
    seed: int,
    instruments: Instruments,
) -> dict[str, pd.DataFrame]:
    """Bars per symbol (keyed by local symbol, e.g. "EUR.USD"): time, open..close, volume."""
    if bar_size_s <= 0 or bar_size_s % 5 or 86400 % bar_size_s:
        raise ValueError(f"bar size {bar_size_s}s must be a multiple of 5 that divides a day")
    if days <= 0:
        raise ValueError("days must be > 0")
    insts = [instruments.by_symbol(s) for s in symbols]
    calendar = trading_days(start, days)
    market = _market_factor(seed, len(calendar), 86400 // bar_size_s)
    return {
        inst.local_symbol: _one_symbol(inst, calendar, bar_size_s, seed, market) for inst in insts
    }


def _market_factor(seed: int, days: int, per_day: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 0x4D4B54])
    return rng.standard_normal((days, per_day))


def _one_symbol(
    inst: Instrument, calendar: list[date], bar_s: int, seed: int, market: np.ndarray
) -> pd.DataFrame:
    rng = np.random.default_rng([seed, _stable(inst.local_symbol)])
    prof = profile_for(inst, seed)
    sigma_day = prof.vol / math.sqrt(252.0)
    log_price = math.log(prof.price)
    frames = []
    for n, day in enumerate(calendar):
        times = session_grid(inst, day, bar_s)
        if not len(times):
            continue
        if n:
            log_price += _gap(rng, sigma_day)
        bars, log_price = _one_day(rng, inst, prof, times, sigma_day, log_price, market[n])
        frames.append(bars)
    return pd.concat(frames, ignore_index=True)


def _gap(rng: np.random.Generator, sigma_day: float) -> float:
    """Overnight move: mostly small, sometimes an earnings-sized jump."""
    gap = rng.normal(0.0, 0.35 * sigma_day)
    if rng.random() < 0.03:
        gap += rng.choice([-1.0, 1.0]) * rng.uniform(1.5, 4.0) * sigma_day
    return float(gap)


def _one_day(
    rng: np.random.Generator,
    inst: Instrument,
    prof: Profile,
    times: np.ndarray,
    sigma_day: float,
    log_open: float,
    market: np.ndarray,
) -> tuple[pd.DataFrame, float]:
    n = len(times)
    sigma = sigma_day * float(np.exp(rng.normal(0.0, 0.25)))
    regime = rng.choice(["up", "down", "range"], p=[0.25, 0.25, 0.5])
    drift = {"up": 1.0, "down": -1.0, "range": 0.0}[regime] * rng.uniform(0.4, 1.3) * sigma
    pull = 0.03 if regime == "range" else 0.0  # mean reversion per bar toward the day's open
    vol_shape = _u_shape(n, 1.6, 0.8, 0.6)
    vol_shape /= np.sqrt(np.mean(vol_shape**2))
    step = sigma / math.sqrt(n) * vol_shape
    z = rng.standard_normal(n)
    if inst.sec_type == "STK":
        z = MARKET_SHARE * market[:n] + math.sqrt(1.0 - MARKET_SHARE**2) * z
    shocks = drift / n + step * z
    closes = np.empty(n)
    x = log_open
    for i in range(n):  # sequential: the range regime pulls back toward the open
        x += shocks[i] - pull * (x - log_open)
        closes[i] = x
    opens = np.r_[log_open, closes[:-1]]
    wick = np.abs(rng.normal(0.0, 0.6, (2, n))) * step
    o, c = np.exp(opens), np.exp(closes)
    h = np.maximum(o, c) * np.exp(wick[0])
    lo = np.minimum(o, c) * np.exp(-wick[1])
    frame = _rounded(
        inst, times, o, h, lo, c, _volumes(rng, prof, n, abs(closes[-1] - log_open) / sigma)
    )
    return frame, float(np.log(frame["close"].iloc[-1]))


def _volumes(rng: np.random.Generator, prof: Profile, n: int, day_move: float) -> np.ndarray:
    """U-shaped intraday volume; bigger days trade more."""
    shape = _u_shape(n, 3.0, 1.5, 0.5)
    shape /= shape.sum()
    total = prof.adv * float(np.exp(rng.normal(0.0, 0.3))) * (0.8 + 0.3 * day_move)
    noisy = shape * total * np.exp(rng.normal(0.0, 0.35, n))
    return np.maximum(np.round(noisy), 1.0)


def _rounded(
    inst: Instrument,
    times: np.ndarray,
    o: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    volume: np.ndarray,
) -> pd.DataFrame:
    tick = inst.min_tick
    o, c = round_array_to_tick(o, tick), round_array_to_tick(c, tick)
    o[1:] = c[:-1]  # keep the minute-to-minute path continuous after rounding
    h = np.maximum(round_array_to_tick(h, tick), np.maximum(o, c))
    lo = np.maximum(np.minimum(round_array_to_tick(lo, tick), np.minimum(o, c)), tick)
    stamps = [datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in times]
    return pd.DataFrame(
        {
            "time": stamps,
            "open": o,
            "high": h,
            "low": lo,
            "close": c,
            "volume": volume.astype(np.int64),
        }
    )


def write_sample(
    out_dir: Path,
    symbols: Sequence[str],
    start: date,
    days: int,
    bar_size_s: int,
    seed: int,
    instruments: Instruments,
    command: str = "",
) -> list[Path]:
    """Write <LOCALSYMBOL>.csv.gz per symbol (reproducible bytes) and a README saying the
    prices are synthetic; returns the data files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in synthesize(symbols, start, days, bar_size_s, seed, instruments).items():
        path = out_dir / f"{name}.csv.gz"
        text = frame.to_csv(index=False, lineterminator="\n").encode()
        with (
            path.open("wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz,
        ):
            gz.write(text)
        paths.append(path)
    (out_dir / "README.md").write_text(
        _readme(symbols, start, days, bar_size_s, seed, command, instruments)
    )
    return paths


def _readme(
    symbols: Sequence[str],
    start: date,
    days: int,
    bar_size_s: int,
    seed: int,
    command: str,
    instruments: Instruments,
) -> str:
    names = ", ".join(instruments.by_symbol(s).local_symbol for s in symbols)
    cmd = command or (
        f"ibbot data synth --out DIR --symbols {','.join(symbols)} --start {start} "
        f"--days {days} --bar-size {bar_size_s} --seed {seed}"
    )
    return f"""# Sample market data: SYNTHETIC prices

**These prices are synthetic.** They were generated by `bot/research/data/synth.py` from a random
seed and are not real market data; do not draw conclusions about the real instruments from them.

- Instruments: {names}
- Bars: {bar_size_s}-second bars, {days} trading days from {start} (stocks: regular trading
  hours only; forex: the whole Sunday 17:00 to Friday 17:00 US/Eastern week)
- Seed: {seed}
- Format: one `<SYMBOL>.csv.gz` per instrument, columns `time` (bar start, UTC ISO 8601),
  `open`, `high`, `low`, `close`, `volume`

Regenerate (byte-identical) with:

```
{cmd}
```
"""
