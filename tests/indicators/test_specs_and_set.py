"""Specs as values (names, hashing, validation) and the engine's IndicatorSet."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pandas as pd
import pytest
from indicator_helpers import ALL_SPECS

from bot.model.events import Bar
from bot.strategy.indicators import (
    ADX,
    ATR,
    EMA,
    MACD,
    RSI,
    SMA,
    ADXValue,
    Bollinger,
    BollingerValue,
    IndicatorSet,
    IndicatorSpec,
    MACDValue,
    Stochastic,
    StochValue,
)


def test_names() -> None:
    names = [str(spec) for spec in ALL_SPECS]
    assert names == [
        "SMA(20)",
        "EMA(20)",
        "MACD(12,26,9)",
        "MACD(12,26,9,course)",
        "Bollinger(20,2,sma)",
        "Bollinger(20,2,ema)",
        "Bollinger(10,1.5,sma,ddof=1)",
        "ATR(14)",
        "ATR(14,course)",
        "RSI(14)",
        "RSI(20,course)",
        "ADX(14)",
        "ADX(20,course)",
        "Stochastic(14,3)",
        "Stochastic(20,3)",
        "Stochastic(20,3,ema)",
    ]


def test_defaults_and_outputs() -> None:
    assert MACD() == MACD(12, 26, 9) and MACD().outputs == ("macd", "signal", "hist")
    assert MACD() == MACD(12, 26, 9, "ta") != MACD(12, 26, 9, "course")
    assert MACD(source="course").warmup == MACD().warmup == 34
    assert Bollinger() == Bollinger(20, 2.0, "sma", 0)
    assert Bollinger().outputs == ("middle", "upper", "lower", "width", "width_abs")
    assert ATR() == ATR(14, "wilder") and RSI() == RSI(14) and ADX() == ADX(14)
    assert Stochastic() == Stochastic(14, 3) and Stochastic().outputs == ("k", "d")
    assert ADX().outputs == ("adx", "plus_di", "minus_di")
    assert SMA(5).outputs == ("sma",) and ATR().outputs == ("atr",)
    # the course variants are opt-in: the defaults are today's (ta's) definitions
    assert RSI() == RSI(14, "ta") != RSI(14, "course") and ADX() == ADX(14, "ta")
    assert Stochastic() == Stochastic(14, 3, "sma") != Stochastic(14, 3, "ema")
    assert RSI(20, "course").warmup == 21 and RSI(20).warmup == 20
    assert ADX(20, "course").warmup == ADX(20).warmup == 40
    assert ADX(5, "course").outputs == ADX().outputs
    assert Stochastic(20, 3, "ema").warmup == Stochastic(20, 3).warmup == 22


def test_equal_specs_share_a_key() -> None:
    assert len({MACD(12, 26, 9), MACD(), MACD(12, 26, 10)}) == 2
    assert Bollinger(20, 2) == Bollinger(20, 2.0)
    assert hash(Bollinger(20, 2)) == hash(Bollinger(20, 2.0))
    assert SMA(20) != EMA(20) and ATR(14) != ATR(14, "course")
    with pytest.raises(AttributeError):
        SMA(20).n = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SMA(0), "SMA n must be an integer >= 1, got 0"),
        (
            lambda: EMA(2.5),  # type: ignore[arg-type]
            "EMA n must be an integer >= 1, got 2.5",
        ),
        (lambda: MACD(12, True), "MACD slow must be an integer >= 1, got True"),
        (
            lambda: MACD(12, 26, 9, "pandas"),  # type: ignore[arg-type]
            'MACD source must be "ta" or "course"',
        ),
        (
            lambda: Bollinger(20, middle="wma"),  # type: ignore[arg-type]
            'Bollinger middle must be "sma" or "ema"',
        ),
        (lambda: Bollinger(20, -1), "Bollinger k must be a finite number >= 0"),
        (lambda: Bollinger(3, ddof=3), "Bollinger ddof must be < n"),
        (
            lambda: ATR(14, "sma"),  # type: ignore[arg-type]
            'ATR method must be "wilder" or "course"',
        ),
        (lambda: Stochastic(14, 0), "Stochastic smooth must be an integer >= 1"),
        (
            lambda: Stochastic(14, 3, "wma"),  # type: ignore[arg-type]
            'Stochastic d must be "sma" or "ema", got \'wma\'',
        ),
        (
            lambda: RSI(14, "wilder"),  # type: ignore[arg-type]
            'RSI method must be "ta" or "course", got \'wilder\'',
        ),
        (
            lambda: ADX(14, "ewm"),  # type: ignore[arg-type]
            'ADX method must be "ta" or "course", got \'ewm\'',
        ),
        (lambda: RSI(0, "course"), "RSI n must be an integer >= 1, got 0"),
    ],
)
def test_bad_parameters(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        make()  # type: ignore[operator]


def test_warming_up_values_are_nan_shaped() -> None:
    assert math.isnan(SMA(3).incremental().update(1, 1, 1, 1))
    value = MACD().incremental().update(1, 1, 1, 1)
    assert isinstance(value, MACDValue) and all(math.isnan(v) for v in value)
    assert isinstance(Bollinger().incremental().update(1, 1, 1, 1), BollingerValue)
    assert isinstance(ADX().incremental().update(1, 1, 1, 1), ADXValue)
    assert isinstance(Stochastic().incremental().update(1, 1, 1, 1), StochValue)


def bar(close: float) -> Bar:
    return Bar("AAPL", datetime(2024, 1, 2, 15, tzinfo=UTC), close, close, close, close, 100, 900)


def test_set_shares_updaters_and_keeps_history() -> None:
    bars = IndicatorSet()
    sma: IndicatorSpec = SMA(2)
    bars.add(sma)
    bars.add(SMA(2), history=5)  # a second strategy asking for more history
    bars.add(MACD(2, 3, 2))
    assert len(bars) == 2 and SMA(2) in bars and bars.history(sma) == 5
    assert bars.warmup == 4
    assert math.isnan(bars.value(sma, ago=4))
    assert all(math.isnan(v) for v in bars.value(MACD(2, 3, 2), ago=2))
    for close in [1.0, 3.0, 5.0, 9.0]:
        bars.on_bar(bar(close))
    assert bars.bars == 4
    assert [bars.value(sma, ago) for ago in range(3)] == [7.0, 4.0, 2.0]
    assert math.isnan(bars.value(sma, ago=3)) and math.isnan(bars.value(sma, ago=4))
    frame = pd.DataFrame({c: [1.0, 3.0, 5.0, 9.0] for c in ("open", "high", "low", "close")})
    frame["volume"] = 100.0
    assert tuple(bars.value(MACD(2, 3, 2))) == tuple(MACD(2, 3, 2).batch(frame).iloc[-1])


def test_set_refuses_what_it_cannot_honour() -> None:
    bars = IndicatorSet()
    bars.add(RSI(3))
    with pytest.raises(ValueError, match="history must be >= 1"):
        bars.add(RSI(3), history=0)
    bars.update(1.0, 1.0, 1.0, 1.0)
    with pytest.raises(IndexError, match=r"RSI\(3\): ago=3 is outside the 3 values kept"):
        bars.value(RSI(3), ago=3)
    with pytest.raises(IndexError):
        bars.value(RSI(3), ago=-1)
    with pytest.raises(RuntimeError, match=r"cannot add ATR\(14\) after 1 bars"):
        bars.add(ATR())
    bars.add(RSI(3), history=10)  # more history for a spec already fed is fine
    assert bars.history(RSI(3)) == 10 and math.isnan(bars.value(RSI(3), ago=9))
    with pytest.raises(KeyError):
        bars.value(SMA(3))
