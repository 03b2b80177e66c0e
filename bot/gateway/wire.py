"""TWS API framing, both directions, and the ``API\\0`` + ``vMIN..MAX`` version handshake.

Every message is a 4-byte big-endian payload length followed by NUL-terminated text fields.
The one exception is the client's opening: the raw bytes ``API\\0`` and then one framed,
*unterminated* string ``v157..176`` (optionally followed by `` +OPTIONS``). The server answers
with two fields (its chosen version and a connection time) and then waits for startApi.

Frames longer than :data:`MAX_FRAME` (16 MiB: IB's own client refuses far less, and no
legitimate request comes near it) are a protocol error: the stream cannot be trusted after
one, so the connection is closed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence

API_PREFIX = b"API\0"
MAX_FRAME = 16 * 1024 * 1024

# The versions this gateway can speak: ib_insync 0.9.86 refuses anything below 157 and asks
# for at most 176; every version-dependent field between the two is gated like ib_insync does.
MIN_SERVER_VERSION = 157
MAX_SERVER_VERSION = 176

_LEN = struct.Struct(">I")


class FrameError(Exception):
    """The byte stream broke the framing rules; the connection must be closed."""


def frame(fields: Sequence[str]) -> bytes:
    """One framed message from already formatted fields (each gets its trailing NUL)."""
    payload = ("\0".join(fields) + "\0").encode()
    return _LEN.pack(len(payload)) + payload


def split_fields(payload: bytes) -> list[str]:
    """Fields of one payload, as ib_insync splits them: the final NUL ends the last field."""
    fields = payload.decode(errors="backslashreplace").split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


class FrameDecoder:
    """Incremental length-prefixed frame splitter; feed bytes, iterate complete payloads."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buf = bytearray()
        self._max = max_frame

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def pending(self) -> int:
        return len(self._buf)

    def frames(self) -> Iterator[bytes]:
        """Yield each complete payload; raise FrameError on an oversize length."""
        buf = self._buf
        pos = 0
        try:
            while len(buf) - pos >= 4:
                (size,) = _LEN.unpack_from(buf, pos)
                if size > self._max:
                    raise FrameError(f"frame of {size} bytes exceeds the {self._max} byte limit")
                end = pos + 4 + size
                if end > len(buf):
                    break
                payload = bytes(buf[pos + 4 : end])
                pos = end
                yield payload
        finally:
            del buf[:pos]


def parse_version_range(payload: bytes) -> tuple[int, int]:
    """``v157..176`` (maybe followed by `` +PACEAPI``) or ``v176`` -> (min, max)."""
    text = payload.decode(errors="replace").strip("\0").strip()
    if not text.startswith("v"):
        raise FrameError(f"bad version handshake {text[:40]!r}")
    spec = text[1:].split(" ", 1)[0]
    lo, sep, hi = spec.partition("..")
    try:
        low = int(lo)
        high = int(hi) if sep else low
    except ValueError:
        raise FrameError(f"bad version handshake {text[:40]!r}") from None
    if low > high:
        raise FrameError(f"empty version range {text[:40]!r}")
    return low, high


def choose_version(client_min: int, client_max: int, pinned: int | None = None) -> int | None:
    """The highest version in both ranges (or the pinned one, if the client accepts it)."""
    if pinned is not None:
        return pinned if client_min <= pinned <= client_max else None
    best = min(client_max, MAX_SERVER_VERSION)
    return best if best >= max(client_min, MIN_SERVER_VERSION) else None


def check_pinned(version: int | None) -> None:
    if version is not None and not MIN_SERVER_VERSION <= version <= MAX_SERVER_VERSION:
        raise ValueError(
            f"server version {version} is not supported "
            f"(supported: {MIN_SERVER_VERSION}..{MAX_SERVER_VERSION})"
        )
