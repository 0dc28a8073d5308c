"""The State Cookie: everything needed to build an association, signed (RFC 9260 section 5.1.3).

The endpoint answers INIT without keeping any state (RFC 9260 section 5.1, "no resource
allocation on reception of INIT"); the cookie carries the negotiated parameters, the tie-tags for
collision handling (section 5.2.4), the peer's UDP encapsulation port (RFC 6951 section 5.4: the
INIT's source port is not learned, it travels in the cookie) and a creation time. An HMAC-SHA-256
with a secret key protects it; the key rotates once per cookie lifetime and the previous key is
still accepted for one more lifetime (RFC 9260 section 5.1.3).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

from .config import Configuration

__all__ = ["CookieSigner", "CookieState"]

_MAGIC = b"SCT1"
_MAC_SIZE = 32
_FIXED = struct.Struct("!qIIIIIIIHHHHHHB?I")
_HOST_LEN = struct.Struct("!B")


@dataclass(frozen=True, slots=True)
class CookieState:
    """What the cookie promises; read back only after its MAC was verified."""

    created: float
    "When the INIT-ACK was made, in the endpoint's clock (seconds)."
    lifetime: float
    local_tag: int
    peer_tag: int
    local_initial_tsn: int
    peer_initial_tsn: int
    peer_rwnd: int
    local_tie_tag: int
    peer_tie_tag: int
    outbound_streams: int
    "Negotiated: min(our OS, peer MIS)."
    inbound_streams: int
    "Negotiated: min(our MIS, peer OS)."
    local_port: int
    peer_port: int
    udp_port: int
    "The peer's UDP encapsulation port the INIT came from (0: plain IP)."
    peer_prsctp: bool
    peer_reconfig: bool
    peer_addresses: tuple[str, ...]
    "The INIT's source address first, then the addresses the INIT listed."

    def pack(self) -> bytes:
        hosts = b"".join(_HOST_LEN.pack(len(h)) + h.encode() for h in self.peer_addresses)
        flags = (1 if self.peer_prsctp else 0) | (2 if self.peer_reconfig else 0)
        fixed = _FIXED.pack(
            round(self.created * 1_000_000),
            round(self.lifetime * 1000),
            self.local_tag,
            self.peer_tag,
            self.local_initial_tsn,
            self.peer_initial_tsn,
            self.peer_rwnd,
            self.local_tie_tag,
            self.outbound_streams,
            self.inbound_streams,
            self.local_port,
            self.peer_port,
            self.udp_port,
            len(self.peer_addresses),
            flags,
            False,
            self.peer_tie_tag,
        )
        return fixed + hosts

    @classmethod
    def unpack(cls, data: bytes) -> CookieState | None:
        if len(data) < _FIXED.size:
            return None
        (
            created_us,
            lifetime_ms,
            local_tag,
            peer_tag,
            local_tsn,
            peer_tsn,
            peer_rwnd,
            local_tie,
            outbound,
            inbound,
            local_port,
            peer_port,
            udp_port,
            host_count,
            flags,
            _,
            peer_tie,
        ) = _FIXED.unpack_from(data)
        hosts = []
        offset = _FIXED.size
        for _ in range(host_count):
            if offset >= len(data):
                return None
            size = data[offset]
            hosts.append(data[offset + 1 : offset + 1 + size].decode("ascii", "replace"))
            offset += 1 + size
        return cls(
            created_us / 1_000_000,
            lifetime_ms / 1000,
            local_tag,
            peer_tag,
            local_tsn,
            peer_tsn,
            peer_rwnd,
            local_tie,
            peer_tie,
            outbound,
            inbound,
            local_port,
            peer_port,
            udp_port,
            bool(flags & 1),
            bool(flags & 2),
            tuple(hosts),
        )


class CookieSigner:
    """Signs and verifies cookies with a rotating secret (one per endpoint)."""

    def __init__(self, config: Configuration) -> None:
        self._config = config
        self._key = config.random_bytes(32)
        self._previous_key: bytes | None = None
        self._rotated_at: float | None = None

    def _rotate(self, now: float) -> None:
        if self._rotated_at is None:
            self._rotated_at = now
        elif now - self._rotated_at >= self._config.valid_cookie_life:
            self._previous_key = self._key
            self._key = self._config.random_bytes(32)
            self._rotated_at = now

    def sign(self, state: CookieState, *, now: float) -> bytes:
        self._rotate(now)
        body = _MAGIC + state.pack()
        return body + hmac.new(self._key, body, hashlib.sha256).digest()

    def verify(self, cookie: bytes) -> CookieState | None:
        """The state in a cookie this endpoint made, or None (bad MAC: discard silently,
        RFC 9260 section 5.1.5 step 2). Staleness is the caller's check: it needs ``now``."""
        if len(cookie) < len(_MAGIC) + _FIXED.size + _MAC_SIZE or not cookie.startswith(_MAGIC):
            return None
        body, mac = cookie[:-_MAC_SIZE], cookie[-_MAC_SIZE:]
        for key in (self._key, self._previous_key):
            if key is not None and hmac.compare_digest(
                hmac.new(key, body, hashlib.sha256).digest(), mac
            ):
                return CookieState.unpack(body[len(_MAGIC) :])
        return None
