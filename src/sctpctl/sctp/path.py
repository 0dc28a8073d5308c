"""One destination address of the peer: its state, RTO, congestion window and timers.

RFC 9260 keeps congestion control, the RTO and the T3-rtx timer per destination transport
address (sections 6.3, 7.2); heartbeats and path failure detection are per address too
(section 8). A ``Path`` holds all of that; the association decides what to send where.
"""

from __future__ import annotations

from .config import Address, Configuration
from .constants import COMMON_HEADER_SIZE, IPV4_HEADER_SIZE, IPV6_HEADER_SIZE, UDP_HEADER_SIZE
from .events import PathState

__all__ = ["Path"]

MIN_PMTU = 512


class Path:
    __slots__ = (
        "_config",
        "address",
        "cwnd",
        "error_count",
        "flight",
        "heartbeat_at",
        "heartbeat_nonce",
        "heartbeat_sent",
        "last_data",
        "last_sent",
        "max_packet",
        "mtu",
        "partial_bytes_acked",
        "rto",
        "rtt_sent",
        "rtt_tsn",
        "rttvar",
        "srtt",
        "ssthresh",
        "state",
        "t3",
        "window_full",
    )

    def __init__(self, address: Address, config: Configuration, *, confirmed: bool) -> None:
        self._config = config
        self.address = address
        self.state = PathState.ACTIVE if confirmed else PathState.UNCONFIRMED
        self.mtu = config.mtu
        self.max_packet = 0
        self._update_max_packet()
        # RFC 9260 section 6.3.1 C1: RTO.Initial until the first measurement.
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.rto = config.rto_initial
        self.cwnd = config.initial_congestion_window(self.max_packet)
        self.ssthresh = config.receive_window  # replaced by the peer's a_rwnd at setup
        self.partial_bytes_acked = 0
        self.flight = 0
        self.window_full = False
        """Whether the congestion window was fully used when the packets being processed
        arrived: what the last ``packets_to_send`` left (RFC 9260 section 7.2.1)."""
        self.error_count = 0
        self.t3: float | None = None
        self.heartbeat_at: float | None = None
        self.heartbeat_nonce: bytes | None = None
        self.heartbeat_sent = 0.0
        self.last_sent = 0.0
        self.last_data: float | None = None
        "When DATA last went to this path (for the idle-window rule)."
        self.rtt_tsn: int | None = None
        self.rtt_sent = 0.0

    def _update_max_packet(self) -> None:
        ip = IPV6_HEADER_SIZE if ":" in self.address.host else IPV4_HEADER_SIZE
        udp = UDP_HEADER_SIZE if self.address.udp_port else 0  # RFC 6951 section 5.6
        self.max_packet = self.mtu - ip - udp

    @property
    def max_data_payload(self) -> int:
        """User data bytes one DATA chunk may carry in a packet of its own."""
        return self.max_packet - COMMON_HEADER_SIZE - 16

    def set_udp_port(self, port: int) -> None:
        """Learned from a received packet (RFC 6951 section 5.4); the MTU follows."""
        if port != self.address.udp_port:
            self.address = Address(self.address.host, port)
            self._update_max_packet()

    def set_mtu(self, mtu: int) -> None:
        self.mtu = max(MIN_PMTU, mtu)
        self._update_max_packet()
        self.cwnd = max(self.cwnd, self.max_packet)

    @property
    def usable(self) -> bool:
        return self.state is PathState.ACTIVE

    def rtt_measured(self, r: float) -> None:
        """RFC 9260 section 6.3.1 rules C2, C3 and C4-C7 (alpha 1/8, beta 1/4)."""
        config = self._config
        r = max(r, 0.0)
        if self.srtt is None:
            self.srtt = r
            self.rttvar = r / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - r)
            self.srtt = 0.875 * self.srtt + 0.125 * r
        # C4 clock granularity G is taken as 1 ms; C6/C7 clamp to RTO.Min and RTO.Max.
        rto = self.srtt + max(0.001, 4 * self.rttvar)
        self.rto = min(max(rto, config.rto_min), config.rto_max)

    def decay_idle_window(self, now: float) -> None:
        """RFC 9260 section 7.2.1: a path that sent no data for an RTO halves its cwnd, down to
        4 MTU, once per RTO of silence."""
        if self.last_data is None:
            return
        floor = 4 * self.max_packet
        periods = int((now - self.last_data) / self.rto)
        for _ in range(min(periods, 32)):
            if self.cwnd <= floor:
                break
            self.cwnd = max(self.cwnd // 2, floor)

    def back_off(self) -> None:
        """RFC 9260 section 6.3.3 E2: RTO doubles on expiry, capped at RTO.Max."""
        self.rto = min(self.rto * 2, self._config.rto_max)
