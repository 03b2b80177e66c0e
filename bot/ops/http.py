"""A tiny asyncio HTTP/1.1 server: one request per connection, bodies by Content-Length, JSON
or text answers. Enough for Prometheus, a browser polling a page, and the control client;
no dependency beyond the standard library."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from bot.runtime.deadlines import within

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
READ_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    peer: str  # the client's address

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, data: Any) -> Response:
    return Response(status, json.dumps(data, default=str).encode(), "application/json")


Handler = Callable[[Request], Awaitable[Response]]


class HttpServer:
    def __init__(self, handler: Handler, host: str, port: int) -> None:
        self.handler, self.host, self.port = handler, host, port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("ops endpoint on http://%s:%d (/metrics, /health, /status)", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await within(self._server.wait_closed(), 1.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            req = await within(_read(reader, writer), READ_TIMEOUT)
            resp = await self.handler(req) if isinstance(req, Request) else req
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            writer.close()
            return
        except Exception as e:  # a bug in a page must not take the daemon down
            log.exception("ops endpoint failed: %s", e)
            resp = json_response(500, {"error": str(e)})
        try:
            writer.write(_encode(resp))
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


async def _read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request | Response:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return json_response(400, {"error": "bad request line"})
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        return json_response(400, {"error": "bad Content-Length"})
    if length > MAX_BODY:
        return json_response(413, {"error": f"body over {MAX_BODY} bytes"})
    body = await reader.readexactly(length) if length else b""
    peer = writer.get_extra_info("peername")
    return Request(parts[0].upper(), parts[1].split("?", 1)[0], headers, body,
                   str(peer[0]) if peer else "")  # fmt: skip


def _encode(r: Response) -> bytes:
    reason = HTTPStatus(r.status).phrase
    head = [f"HTTP/1.1 {r.status} {reason}", f"Content-Type: {r.content_type}",
            f"Content-Length: {len(r.body)}", "Connection: close", "Cache-Control: no-store",
            *(f"{k}: {v}" for k, v in r.headers.items())]  # fmt: skip
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + r.body
