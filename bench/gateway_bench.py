"""Benchmark of the simulated IB Gateway against the unmodified ib_insync client.

Prints:
  * how long ``IB.connectAsync()`` takes (median and worst of several connects);
  * the message rate the gateway sustains to one ib_insync client in as-fast-as-possible
    replay: reqMktData on 25 symbols of the shipped sample (1-minute bars), one trading day;
  * side by side, the floor: ib_insync replaying the very same captured bytes through its own
    receive path (framing, Decoder, Wrapper, events) with no socket and no gateway, and the bare
    ``Decoder.interpret`` rate on the same messages, with the ratios;
  * the gateway's own cost: the same day stepped in-process with no client (encode only).

The gateway runs in a separate process (as a real IB Gateway would), so the client's process
measures what a bot would see. Usage: ``python bench/gateway_bench.py [--symbols 25] [--hours
6.5] [--connects 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import statistics
import struct
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ib_insync import IB, Contract, Stock  # noqa: E402
from ib_insync.decoder import Decoder  # noqa: E402

from bot.config.gateway import GatewaySettings  # noqa: E402
from bot.gateway import outbound as out  # noqa: E402
from bot.gateway.server import Gateway, GatewayTuning, default_start  # noqa: E402
from bot.gateway.wire import frame  # noqa: E402
from bot.sim.instruments import Instruments  # noqa: E402
from bot.sim.market import Market  # noqa: E402
from bot.sim.shipped import DEFAULT_INSTRUMENTS_FILE, SAMPLE_DATA_DIR  # noqa: E402


def day_window(hours: float) -> tuple[datetime, datetime, list[str]]:
    """The default start (a regular-session open of the sample) and the stock symbols."""
    instruments = Instruments.load(DEFAULT_INSTRUMENTS_FILE)
    market = Market.load(SAMPLE_DATA_DIR, instruments, GatewaySettings().seed)
    start = default_start(market, instruments)
    stocks = [i.symbol for i in instruments if i.sec_type == "STK" and market.has_data(i.con_id)]
    return start, start + timedelta(hours=hours), stocks


def _gateway_process(port_q: mp.Queue, start: datetime, end: datetime) -> None:
    logging.basicConfig(level=logging.WARNING)

    async def main() -> None:
        gw = Gateway(
            GatewaySettings(data=SAMPLE_DATA_DIR, instruments=DEFAULT_INSTRUMENTS_FILE, speed=0,
                            start=start),
            GatewayTuning(end=end, start_delay=0.2, max_message_rate=0),
        )
        await gw.start()
        port_q.put(gw.port)
        await gw.run_forever()

    asyncio.run(main())


async def measure_connect(port: int, n: int) -> list[float]:
    times = []
    for i in range(n):
        ib = IB()
        t0 = time.perf_counter()
        await ib.connectAsync("127.0.0.1", port, clientId=100 + i, timeout=10)
        times.append(time.perf_counter() - t0)
        ib.disconnect()
        await asyncio.sleep(0.01)
    return times


async def stream_day(port: int, symbols: list[str], end: datetime) -> Streamed:
    """Subscribe to all symbols; time from the first data to the gateway's clock at ``end``."""
    ib = IB()
    ib.client.MaxRequests = 0  # no client-side throttling: all subscriptions in one go
    await ib.connectAsync("127.0.0.1", port, clientId=1, timeout=10)
    contracts = [Stock(s, "SMART", "USD") for s in symbols]
    await ib.qualifyContractsAsync(*contracts)
    chunks: list[bytes] = []
    first: list[float] = []

    def on_data(data: bytes) -> None:  # the raw bytes, as the socket delivered them
        if not first:
            first.append(time.perf_counter())
        chunks.append(data)

    ib.client.conn.hasData += on_data
    msgs0 = ib.client._numMsgRecv
    for c in contracts:
        ib.reqMktData(c)
    while await ib.reqCurrentTimeAsync() < end:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - first[0]
    n = ib.client._numMsgRecv - msgs0
    ib.client.conn.hasData -= on_data
    tickers = {r: t.contract for r, t in ib.wrapper.reqId2Ticker.items()}
    version = ib.client.serverVersion()
    ib.disconnect()
    return Streamed(elapsed, n, chunks, tickers, version)


@dataclass
class Streamed:
    elapsed: float
    messages: int
    chunks: list[bytes]
    tickers: dict[int, Contract]  # reqId -> contract, to replay into a fresh IB
    version: int


def _fresh_ib(live: Streamed) -> IB:
    ib = IB()
    for req_id, contract in live.tickers.items():
        ib.wrapper.startTicker(req_id, contract, "mktData")
    return ib


def replay_floor(live: Streamed) -> tuple[float, int]:
    """ib_insync's own receive path (framing, Decoder, Wrapper, events) on the same bytes."""
    client = _fresh_ib(live).client
    client._serverVersion = live.version
    client.decoder.serverVersion = live.version
    client._apiReady = True
    client.connState = client.CONNECTED
    t0 = time.perf_counter()
    for chunk in live.chunks:
        client._onSocketHasData(chunk)
    return time.perf_counter() - t0, client._numMsgRecv


def split_messages(chunks: list[bytes]) -> list[list[str]]:
    data = b"".join(chunks)
    msgs, pos = [], 0
    while pos + 4 <= len(data):
        (size,) = struct.unpack_from(">I", data, pos)
        msgs.append(data[pos + 4 : pos + 4 + size].decode().split("\0")[:-1])
        pos += 4 + size
    return msgs


def bare_decode(msgs: list[list[str]], live: Streamed) -> float:
    decoder = Decoder(_fresh_ib(live).wrapper, live.version)
    t0 = time.perf_counter()
    for fields in msgs:
        decoder.interpret(fields)
    return time.perf_counter() - t0


class _Sink:
    """A client stand-in for the in-process encode-only run."""

    client_id = 1
    version = 176

    def __init__(self) -> None:
        self.n = 0
        self.bytes = 0

    def send(self, fields: list[str]) -> None:
        self.n += 1
        self.bytes += len(frame(fields))

    def error(self, req_id: int, code: int, text: str) -> None:
        self.send(out.error(req_id, code, text, self.version))


def gateway_only(symbols: list[str], start: datetime, end: datetime) -> tuple[float, int]:
    gw = Gateway(GatewaySettings(data=SAMPLE_DATA_DIR, instruments=DEFAULT_INSTRUMENTS_FILE,
                                 speed=None, start=start))
    sink = _Sink()
    for n, sym in enumerate(symbols):
        inst = gw.instruments.by_symbol(sym, "STK")
        gw.streams.add_mkt_data(sink, n, inst, start, snapshot=False, data_type=1)  # type: ignore[arg-type]
    sink.n = 0
    t0 = time.perf_counter()
    t = start
    while t < end:
        t1 = min(end, t + gw.tuning.step)
        gw.driver.step(t, t1)
        t = t1
    return time.perf_counter() - t0, sink.n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--symbols", type=int, default=25)
    p.add_argument("--hours", type=float, default=6.5, help="simulated hours (a trading day)")
    p.add_argument("--connects", type=int, default=20)
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    start, end, stocks = day_window(args.hours)
    symbols = stocks[: args.symbols]
    ctx = mp.get_context("spawn")
    port_q: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_gateway_process, args=(port_q, start, end), daemon=True)
    proc.start()
    try:
        port = port_q.get(timeout=60)

        async def run() -> tuple[list[float], Streamed]:
            connects = await measure_connect(port, args.connects)
            return connects, await stream_day(port, symbols, end)

        connects, live = asyncio.run(run())
    finally:
        proc.terminate()
        proc.join(5)
    floor_s, floor_n = replay_floor(live)
    msgs = split_messages(live.chunks)
    bare_s = bare_decode(msgs, live)
    gw_s, gw_n = gateway_only(symbols, start, end)

    n, elapsed, chunks = live.messages, live.elapsed, live.chunks
    live_rate, floor_rate, bare_rate = n / elapsed, floor_n / floor_s, len(msgs) / bare_s
    print(
        f"simulated IB Gateway benchmark: {len(symbols)} symbols, reqMktData, "
        f"{start:%Y-%m-%d %H:%M} .. {end:%H:%M} UTC (1-minute source bars), as fast as possible"
    )
    print(
        f"connect(): median {statistics.median(connects) * 1000:.1f} ms, "
        f"max {max(connects) * 1000:.1f} ms over {len(connects)} connects"
    )
    print(f"{'':38}{'messages':>12}{'seconds':>10}{'msg/s':>12}{'vs floor':>10}")
    rows = [
        ("gateway -> ib_insync over TCP (live)", n, elapsed, live_rate),
        ("floor: ib_insync receive path, no I/O", floor_n, floor_s, floor_rate),
        ("bare ib_insync Decoder.interpret", len(msgs), bare_s, bare_rate),
        ("gateway alone, encode only (no client)", gw_n, gw_s, gw_n / gw_s),
    ]
    for name, count, secs, rate in rows:
        print(f"{name:38}{count:>12,}{secs:>10.2f}{rate:>12,.0f}{rate / floor_rate:>10.2f}")
    print(
        f"live / floor = {live_rate / floor_rate:.2f}; live / bare decode = "
        f"{live_rate / bare_rate:.2f}; bytes received {sum(map(len, chunks)):,} "
        f"in {len(chunks):,} socket reads"
    )


if __name__ == "__main__":
    main()
