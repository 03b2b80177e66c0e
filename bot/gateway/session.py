"""One client connection: handshake, startApi, then requests in and messages out.

Everything a request or a market step produces is queued and written with one socket write per
batch (all requests of one read, or one market step): ib_insync fires its events once per
socket read, so batching decides what a client observes together. Nothing a client sends can
take the server down: an unknown message id gets error 505, fields that do not parse get error
320, a request that fails gets error 321; a broken handshake, an oversize frame or a client
whose unread output passes ``MAX_BACKLOG`` is disconnected. Other clients are unaffected.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ib_insync import Contract, Order

from bot.gateway import inbound
from bot.gateway import outbound as out
from bot.gateway.handlers import HANDLERS
from bot.gateway.timefmt import ib_datetime
from bot.gateway.wire import (
    API_PREFIX,
    FrameDecoder,
    FrameError,
    choose_version,
    frame,
    parse_version_range,
    split_fields,
)
from bot.runtime.deadlines import within

if TYPE_CHECKING:
    from bot.gateway.server import Gateway

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 10.0  # seconds for API\0 + version range
MAX_HANDSHAKE_FRAME = 1024
MAX_BACKLOG = 64 * 1024 * 1024  # bytes written but not yet taken by the client
FARM_NOTICES = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)


class Session:
    def __init__(
        self, gw: Gateway, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.gw = gw
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.name = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.client_id = -1
        self.version = 0
        self.ready = False  # startApi accepted
        self.closed = False
        self.market_data_type = 1
        self._out: list[bytes] = []
        self._decoder = FrameDecoder(gw.tuning.max_frame)

    def __repr__(self) -> str:
        return f"Session(clientId={self.client_id}, {self.name})"

    @property
    def accounts(self) -> list[str]:
        return self.gw.accounts

    @property
    def account(self) -> str:
        return self.gw.accounts[0]

    # ---- output -------------------------------------------------------------------------

    def send(self, fields: list[str]) -> None:
        self._out.append(frame(fields))

    def error(self, req_id: int, code: int, text: str) -> None:
        self.send(out.error(req_id, code, text, self.version))

    def flush(self) -> None:
        if not self._out:
            return
        data = b"".join(self._out)
        self._out.clear()
        if self.closed:
            return
        self.writer.write(data)
        backlog = self.writer.transport.get_write_buffer_size()
        if backlog > MAX_BACKLOG:
            log.warning(
                "%r: %d bytes unread, disconnecting a client that stopped reading", self, backlog
            )
            self.close()

    async def drain(self) -> None:
        if self.closed:
            return
        try:
            await self.writer.drain()
        except (ConnectionError, RuntimeError):
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._out.clear()
        self.writer.close()
        self.gw.unregister(self)

    # ---- lifecycle ----------------------------------------------------------------------

    async def run(self) -> None:
        try:
            if await within(self._handshake(), HANDSHAKE_TIMEOUT):
                await self._serve()
        except FrameError as e:
            log.warning("%r: protocol error, closing: %s", self, e)
            self.error(-1, 320, f"Server error when reading an API client request. {e}")
            self.flush()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            log.info("%r: connection ended during handshake or read", self)
        except Exception:
            log.exception("%r: unexpected failure, closing the connection", self)
        finally:
            if self.ready:
                log.info("client %d disconnected (%s)", self.client_id, self.name)
            self.close()

    async def _handshake(self) -> bool:
        prefix = await self.reader.readexactly(len(API_PREFIX))
        if prefix != API_PREFIX:
            log.warning("%s: not a TWS API client (opened with %r), closing", self.name, prefix)
            return False
        size = int.from_bytes(await self.reader.readexactly(4), "big")
        if size > MAX_HANDSHAKE_FRAME:
            log.warning("%s: oversize version handshake (%d bytes), closing", self.name, size)
            return False
        low, high = parse_version_range(await self.reader.readexactly(size))
        version = choose_version(low, high, self.gw.config.server_version)
        if version is None:
            log.warning(
                "%s: client versions v%d..%d do not overlap ours, closing", self.name, low, high
            )
            return False
        self.version = version
        self.send([str(version), ib_datetime(self.gw.clock.now(), self.gw.tz)])
        self.flush()
        return True

    async def _serve(self) -> None:
        while not self.closed:
            data = await self.reader.read(1 << 16)
            if not data:
                return
            self._decoder.feed(data)
            for payload in self._decoder.frames():
                self._handle(split_fields(payload))
                if self.closed:
                    return
            self.gw.after_requests()
            self.flush()
            await self.drain()

    # ---- requests -----------------------------------------------------------------------

    def _handle(self, fields: list[str]) -> None:
        try:
            req = inbound.parse(fields, self.version)
        except inbound.UnknownMessage as e:
            log.warning("%r: %s", self, e)
            self.error(-1, 505, "Fatal Error: Unknown message id.")
            return
        except inbound.MalformedRequest as e:
            log.warning("%r: malformed request: %s", self, e)
            self.error(e.req_id, 320, f"Server error when reading an API client request. {e}")
            return
        if isinstance(req, inbound.StartApi):
            self._start_api(req)
            return
        if not self.ready:
            self.error(-1, 321, "Error validating request: startApi must come first.")
            return
        too_fast = self.gw.message_rate.on_message(self.client_id, self.gw.wall())
        if too_fast is not None:
            log.warning("client %d: %s", self.client_id, too_fast.text)
            self.error(-1, too_fast.code, too_fast.text)
        if log.isEnabledFor(logging.INFO):
            log.info("client %d: %s", self.client_id, _describe(req))
        handler = HANDLERS.get(type(req))
        if handler is None:
            return
        try:
            handler(self, req)
        except Exception as e:
            log.exception("%r: request %s failed", self, type(req).__name__)
            req_id = getattr(req, "req_id", getattr(req, "order_id", -1))
            self.error(req_id, 321, f"Error validating request: {type(e).__name__}: {e}")

    def _start_api(self, req: inbound.StartApi) -> None:
        if self.ready:
            self.error(-1, 321, "Error validating request: the API is already started.")
            return
        if not self.gw.register(self, req.client_id):
            log.warning("%s: client id %d is already in use", self.name, req.client_id)
            self.error(
                -1,
                326,
                "Unable to connect as the client id is already in use. "
                "Retry with a unique client id.",
            )
            self.flush()
            self.close()
            return
        self.client_id = req.client_id
        self.ready = True
        log.info(
            "client %d connected from %s (server version %d)",
            self.client_id,
            self.name,
            self.version,
        )
        self.send(out.managed_accounts(self.accounts))
        self.send(out.next_valid_id(self.gw.next_valid_id(self.account, self.client_id)))
        for code, text in FARM_NOTICES:
            self.error(-1, code, text)


def _describe(req: object) -> str:
    """A one-line summary for the log: the request type and its scalar fields."""
    parts = []
    for name in getattr(req, "__slots__", ()):
        value = getattr(req, name)
        if isinstance(value, Contract):
            value = f"{value.secType}:{value.symbol or value.localSymbol or value.conId}"
        elif isinstance(value, Order):
            value = f"{value.action} {value.totalQuantity:g} {value.orderType}"
        elif not isinstance(value, str | int | float | bool):
            continue
        parts.append(f"{name}={value}")
    return f"{type(req).__name__}({', '.join(parts)})"
