"""What the gateway's feeds need from a client connection (implemented by Session)."""

from __future__ import annotations

from typing import Protocol


class Peer(Protocol):
    client_id: int
    version: int  # the negotiated server version

    def send(self, fields: list[str]) -> None:
        """Queue one message; it goes out with the next flush (one socket write)."""

    def error(self, req_id: int, code: int, text: str) -> None:
        """Queue an error message (4) for ``req_id`` (-1: not tied to a request)."""
