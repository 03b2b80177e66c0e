"""The IB client library, in one place: ib_insync 0.9.86 (default) or its successor ib_async.

Every client-side module (the feed, the IB and Sim venues, the executor and its helpers, the
lifecycle, the tools) takes ``IB``, ``Contract``, ``Order``, ``Trade``... from here, never from
a library. Which library is read from ``IBBOT_IB_LIBRARY`` on the first import (default
ib_insync); the commands set it from the config's ``ib.library`` before importing anything that
imports this module (``bot/client/library.py``). The two share class names, dataclass fields and
event names; mypy checks against ib_insync's annotations.

The server side (``bot/sim``, ``bot/gateway``) keeps ib_insync's data classes for its own
bookkeeping and for encoding the wire. The in-process Sim adapters hand the client the selected
library's objects: ``from_sim`` / ``to_sim`` copy a data object field by field into the other
library's class of the same name (nothing to do when both sides are ib_insync).

Differences between the two that the bot relies on, read from ib_async 2.1.0's source:

- Tick-by-tick items: both stamp them with the socket read's wall time
  (``Wrapper.tickByTick*`` use ``self.lastTime``), so ``bot/market_data/tick_times.py`` applies to
  both.
- Empty quotes: ib_async replaces a -1 price / 0 size by ``IBDefaults.emptyPrice`` /
  ``emptySize``, which default to the same -1 and 0 that ib_insync passes through; unset
  Ticker fields are NaN in both. ``new_ib`` keeps those defaults explicitly.
- ``connectAsync``, ``reqCurrentTimeAsync`` (one shared future in both), ``client.MaxRequests``
  (the wall-clock throttle lockstep turns off), ``RaiseRequestErrors``, the events
  (``disconnectedEvent``, ``errorEvent``, ``Trade.statusEvent``...) and the request methods the
  bot calls have the same names and arguments. ``qualifyContractsAsync`` differs (ib_async
  keeps a None for each contract it could not qualify); the bot uses
  ``reqContractDetailsAsync`` instead.
- ib_async offers up to API version 178, ib_insync 176: the simulated gateway serves at most
  176 and both negotiate down to it.
- Loggers are named after the package (``LOGGER``).
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from typing import TYPE_CHECKING, Any

from bot.client.library import ENV, wanted
from bot.client.send_priority import prioritize_orders

LIBRARY: str = wanted()  # IBBOT_IB_LIBRARY, else ib_insync

# The names the client side uses, the same in both libraries.
_CLASSES = (
    "IB",
    "BarData",
    "BarDataList",
    "CommissionReport",
    "Contract",
    "ContractDetails",
    "Execution",
    "Fill",
    "Forex",
    "Order",
    "OrderStatus",
    "PnL",
    "PnLSingle",
    "Position",
    "RealTimeBar",
    "RealTimeBarList",
    "RequestError",
    "ScanData",
    "ScanDataList",
    "ScannerSubscription",
    "Stock",
    "TickByTickAllLast",
    "TickByTickBidAsk",
    "TickByTickMidPoint",
    "Ticker",
    "Trade",
    "TradeLogEntry",
)
_UTIL = ("EPOCH", "UNSET_DOUBLE", "UNSET_INTEGER")

_lib: Any
try:
    _lib = importlib.import_module(LIBRARY)
except ImportError as e:  # bot.client.library.select checks first; this is the bare import
    raise ImportError(f"{ENV}={os.environ.get(ENV)}: {LIBRARY} is not installed ({e})") from None

if TYPE_CHECKING:  # mypy checks against ib_insync's annotations
    from ib_insync import (  # "X as X": re-exported
        IB as IB,
    )
    from ib_insync import (
        BarData as BarData,
    )
    from ib_insync import (
        BarDataList as BarDataList,
    )
    from ib_insync import (
        CommissionReport as CommissionReport,
    )
    from ib_insync import (
        Contract as Contract,
    )
    from ib_insync import (
        ContractDetails as ContractDetails,
    )
    from ib_insync import (
        Execution as Execution,
    )
    from ib_insync import (
        Fill as Fill,
    )
    from ib_insync import (
        Forex as Forex,
    )
    from ib_insync import (
        Order as Order,
    )
    from ib_insync import (
        OrderStatus as OrderStatus,
    )
    from ib_insync import (
        PnL as PnL,
    )
    from ib_insync import (
        PnLSingle as PnLSingle,
    )
    from ib_insync import (
        Position as Position,
    )
    from ib_insync import (
        RealTimeBar as RealTimeBar,
    )
    from ib_insync import (
        RealTimeBarList as RealTimeBarList,
    )
    from ib_insync import (
        RequestError as RequestError,
    )
    from ib_insync import (
        ScanData as ScanData,
    )
    from ib_insync import (
        ScanDataList as ScanDataList,
    )
    from ib_insync import (
        ScannerSubscription as ScannerSubscription,
    )
    from ib_insync import (
        Stock as Stock,
    )
    from ib_insync import (
        TickByTickAllLast as TickByTickAllLast,
    )
    from ib_insync import (
        TickByTickBidAsk as TickByTickBidAsk,
    )
    from ib_insync import (
        TickByTickMidPoint as TickByTickMidPoint,
    )
    from ib_insync import (
        Ticker as Ticker,
    )
    from ib_insync import (
        Trade as Trade,
    )
    from ib_insync import (
        TradeLogEntry as TradeLogEntry,
    )
    from ib_insync.util import EPOCH as EPOCH
    from ib_insync.util import UNSET_DOUBLE as UNSET_DOUBLE
    from ib_insync.util import UNSET_INTEGER as UNSET_INTEGER
else:
    globals().update({name: getattr(_lib, name) for name in _CLASSES})
    globals().update({name: getattr(_lib.util, name) for name in _UTIL})

VERSION: str = str(_lib.__version__)
LOGGER: str = LIBRARY  # the library's loggers are children of this name


def describe() -> str:
    """``ib_async 2.1.0``: for the connect log line."""
    return f"{LIBRARY} {VERSION}"


def new_ib() -> IB:
    """A fresh client. ib_async's empty-quote defaults are set to ib_insync's values (a -1
    price and 0 size pass through, unset fields NaN), so the feed's bad-tick filter sees the
    same numbers on both."""
    if LIBRARY == "ib_async":
        defaults = _lib.IBDefaults(emptyPrice=-1, emptySize=0, unset=float("nan"))
        ib: IB = _lib.IB(defaults=defaults)
    else:
        ib = IB()
    prioritize_orders(ib.client)  # orders and cancels ahead of queued data requests
    return ib


# ---- the server side's ib_insync objects <-> the client's --------------------------------

_SIM = "ib_insync"  # the library bot/sim and bot/gateway build their objects with


def from_sim(obj: Any) -> Any:
    """A sim (ib_insync) data object as the client library's class of the same name."""
    return obj if LIBRARY == _SIM else _convert(obj, _lib)


def to_sim(obj: Any) -> Any:
    """A client data object (an Order, a Contract...) as ib_insync's, for the simulated world."""
    return obj if LIBRARY == _SIM else _convert(obj, importlib.import_module(_SIM))


def _convert(obj: Any, target: Any) -> Any:
    """Field by field, nested data classes, lists and named tuples too; other values as they
    are. A class the target library lacks is kept as it is."""
    if isinstance(obj, list):
        return [_convert(x, target) for x in obj]
    # Stock, LimitOrder...: their __init__ takes other arguments; copy as the data class.
    kind = next((c for c in type(obj).__mro__ if "__dataclass_fields__" in vars(c)), type(obj))
    cls = getattr(target, kind.__name__, None)
    if cls is None or cls is type(obj):
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        values = {
            f.name: _convert(getattr(obj, f.name), target)
            for f in dataclasses.fields(obj)
            if f.name in names
        }
        return cls(**values)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # NamedTuple (TagValue, ...)
        return cls(*(_convert(x, target) for x in obj))
    return obj
