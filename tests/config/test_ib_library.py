"""``ib.library``: which client library a process talks through (bot/client/library.py), and the
field-by-field copy between the simulated world's ib_insync objects and the client's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ib_insync
import pytest

from bot.cli import main
from bot.client import library as ib_library
from bot.client.ib import LIBRARY, _convert
from bot.client.library import ENV, LibraryError, select, wanted
from bot.config.load import load_config

ROOT = Path(__file__).resolve().parents[2]


def test_the_config_wins_then_the_environment_then_ib_insync(monkeypatch: Any) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert wanted(None) == "ib_insync"
    monkeypatch.setenv(ENV, "ib_async")
    assert wanted(None) == "ib_async"
    assert wanted("ib_insync") == "ib_insync"
    monkeypatch.setenv(ENV, "ibapi")
    with pytest.raises(LibraryError, match=r"IBBOT_IB_LIBRARY: unknown IB client library 'ibapi'"):
        wanted(None)


def test_a_config_naming_another_library_is_refused_with_the_choices(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("ib: {library: ibapi}\n")
    with pytest.raises(Exception, match=r"ib\.library.*ib_insync.*ib_async"):
        load_config(path)


def test_a_library_that_is_not_installed_is_named_with_how_to_install_it(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(ib_library, "installed", lambda name: name != "ib_async")
    with pytest.raises(LibraryError, match=r"ib_async is not installed.*ibbot\[ib_async\]"):
        select("ib_async")


def test_a_process_talks_through_one_library(monkeypatch: Any) -> None:
    other = next(name for name in ib_library.LIBRARIES if name != LIBRARY)
    monkeypatch.setattr(ib_library, "installed", lambda name: True)
    monkeypatch.setenv(ENV, LIBRARY)
    with pytest.raises(LibraryError, match=f"already talks through {LIBRARY}"):
        select(other)
    assert select(LIBRARY) == LIBRARY


def test_ibbot_run_refuses_a_missing_library_with_exit_2_before_connecting(
    monkeypatch: Any, tmp_path: Path, capsys: Any
) -> None:
    monkeypatch.setattr(ib_library, "installed", lambda name: name != "ib_async")
    path = tmp_path / "c.yaml"
    path.write_text(
        "ib: {library: ib_async}\nuniverse: {symbols: [AAPL]}\n"
        "strategies: [{id: t, class: tiny_cross, symbols: [AAPL], sizing: {fixed: 1}}]\n"
    )
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "ib.library: ib_async is not installed" in err
    assert "connected" not in err


def test_sim_objects_copy_into_ib_async_and_back_field_by_field() -> None:
    ib_async = pytest.importorskip("ib_async")
    order = ib_insync.LimitOrder("BUY", 10, 101.25, orderRef="s1.7", tif="GTC")
    order.conditions = [ib_insync.PriceCondition(price=100.0, conId=265598, exch="SMART")]
    order.algoParams = [ib_insync.TagValue("maxPctVol", "0.1")]
    details = ib_insync.ContractDetails(
        contract=ib_insync.Stock("AAPL", "SMART", "USD", conId=265598, primaryExchange="NASDAQ"),
        minTick=0.01,
        timeZoneId="US/Eastern",
    )
    a_order, a_details = _convert(order, ib_async), _convert(details, ib_async)
    assert type(a_order) is ib_async.Order
    assert type(a_order.conditions[0]) is ib_async.PriceCondition
    assert type(a_order.algoParams[0]) is ib_async.TagValue
    assert type(a_details.contract) is ib_async.Contract  # a Stock copies as a plain Contract
    assert (a_order.lmtPrice, a_order.orderRef, a_order.tif) == (101.25, "s1.7", "GTC")
    assert (a_details.contract.conId, a_details.contract.secType) == (265598, "STK")
    back = _convert(a_order, ib_insync)
    assert type(back) is ib_insync.Order and vars(back) == vars(order)
    assert _convert(a_details, ib_insync) == ib_insync.ContractDetails(
        contract=ib_insync.Contract(**vars(details.contract)), minTick=0.01, timeZoneId="US/Eastern"
    )
