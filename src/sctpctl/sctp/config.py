"""Configuration of endpoints and associations, and the address type of the core."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from . import constants as c

__all__ = ["Address", "Configuration", "OotbPolicy"]


class Address(NamedTuple):
    """Where a packet comes from or goes to: an IP address and, for UDP encapsulation
    (RFC 6951), the remote UDP port (0 means plain IP, protocol 132)."""

    host: str
    "IPv4 or IPv6 address, textual."
    udp_port: int = 0
    "The UDP encapsulation port of the peer, or 0 for SCTP directly over IP."


class OotbPolicy(Enum):
    """How to answer out-of-the-blue packets (RFC 9260 section 8.4).

    ``REPLY`` answers like a kernel stack (ABORT with the T bit, SHUTDOWN COMPLETE, ABORT to an
    INIT on a closed port). ``NO_ABORT_ON_INIT`` stays silent only for INIT to a closed port
    (usrsctp's ``blackhole=1``). ``SILENT`` never answers (usrsctp's ``blackhole=2``): the choice
    when several stacks share one network namespace.
    """

    REPLY = "reply"
    NO_ABORT_ON_INIT = "no-abort-on-init"
    SILENT = "silent"


@dataclass(frozen=True, slots=True)
class Configuration:
    """Protocol parameters (RFC 9260 section 16 defaults) and local choices.

    Randomness (verification tags, initial TSNs, cookie keys, heartbeat nonces and jitter) comes
    only from ``random_bytes``, so a test that injects a seeded source is reproducible byte for
    byte.
    """

    rto_initial: float = c.RTO_INITIAL
    rto_min: float = c.RTO_MIN
    rto_max: float = c.RTO_MAX
    max_init_retransmits: int = c.MAX_INIT_RETRANSMITS
    association_max_retrans: int = c.ASSOCIATION_MAX_RETRANS
    path_max_retrans: int = c.PATH_MAX_RETRANS
    valid_cookie_life: float = c.VALID_COOKIE_LIFE
    heartbeat_interval: float = c.HB_INTERVAL
    heartbeats: bool = True
    "Send heartbeats on idle paths (HEARTBEATs from the peer are always answered)."
    sack_delay: float = c.SACK_DELAY
    sack_frequency: int = c.SACK_FREQUENCY
    max_burst: int = c.MAX_BURST
    mtu: int = 1500
    "Initial path MTU at the IP layer; the SCTP packet is smaller by the IP (and UDP) header."
    receive_window: int = 1024 * 1024
    "Receive buffer, advertised as a_rwnd; messages count until the application reads them."
    outbound_streams: int = 10
    "OS requested in INIT/INIT-ACK."
    max_inbound_streams: int = 2048
    "MIS offered in INIT/INIT-ACK."
    initial_cwnd: int | None = None
    "Initial cwnd in bytes; None: RFC 9260 section 7.2.1, min(4 MTU, max(2 MTU, 4380))."
    partial_reliability: bool = True
    "Offer PR-SCTP (RFC 3758) and honour message lifetimes and retransmission limits."
    stream_reconfiguration: bool = True
    "Offer RE-CONFIG (RFC 6525): stream reset and adding streams."
    immediate_sack_when_idle: bool = True
    """Set the I bit (RFC 9260 section 3.3.1) on the last DATA chunk before the send queue runs
    dry, when more than one packet of data is in flight (a lone request gets its SACK with the
    answer)."""
    ootb_policy: OotbPolicy = OotbPolicy.REPLY
    use_peer_addresses: bool = True
    "Use the addresses a peer lists in INIT/INIT-ACK (multi-homing); False keeps one path."
    local_addresses: tuple[str, ...] = ()
    "Addresses listed in INIT/INIT-ACK (multi-homing); empty lists none (the packet source counts)."
    random_bytes: Callable[[int], bytes] = secrets.token_bytes
    max_gap_blocks: int = 64
    max_duplicate_tsns: int = 32

    def random_u32(self, *, nonzero: bool = False) -> int:
        while True:
            value = int.from_bytes(self.random_bytes(4), "big")
            if value or not nonzero:
                return value

    def initial_congestion_window(self, mtu: int) -> int:
        if self.initial_cwnd is not None:
            return self.initial_cwnd
        return min(4 * mtu, max(2 * mtu, 4380))  # RFC 9260 section 7.2.1
