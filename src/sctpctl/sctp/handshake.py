"""INIT and INIT-ACK processing shared by the endpoint (no association yet) and an association
(collisions and restarts): parameter handling by type bits, and the stateless INIT-ACK.
"""

from __future__ import annotations

from dataclasses import dataclass

from .chunks import AbortChunk, InitAckChunk, InitChunk
from .config import Address, Configuration
from .constants import ChunkType
from .cookie import CookieSigner, CookieState
from .params import (
    AdaptationLayerIndication,
    Cause,
    CookiePreservative,
    EcnCapable,
    ForwardTsnSupported,
    HostNameAddress,
    Ipv4Address,
    Ipv6Address,
    Param,
    StateCookie,
    SupportedAddressTypes,
    SupportedExtensions,
    UnrecognizedParameter,
)

__all__ = ["InitParams", "answer_init", "examine_params", "local_init", "local_init_params"]

# Parameters this implementation understands in INIT and INIT-ACK. ECN Capable is recognised
# and ignored: ECN is not negotiated because sctpctl never advertises it (RFC 9260 appendix A).
_RECOGNISED = (
    Ipv4Address,
    Ipv6Address,
    CookiePreservative,
    HostNameAddress,
    SupportedAddressTypes,
    EcnCapable,
    ForwardTsnSupported,
    SupportedExtensions,
    AdaptationLayerIndication,
    StateCookie,
    UnrecognizedParameter,
)


@dataclass(frozen=True, slots=True)
class InitParams:
    """What the variable part of an INIT or INIT-ACK says, after the type-bit rules."""

    addresses: tuple[str, ...]
    cookie: bytes | None
    partial_reliability: bool
    reconfig: bool
    cookie_preservative_ms: int
    host_name: bytes | None
    "The serialized Host Name Address parameter, if one was present (answered with ABORT)."
    unrecognized: tuple[bytes, ...]
    "Unknown parameters to report (type bits x1), as received."


def examine_params(params: tuple[Param, ...]) -> InitParams:
    """Walk the parameters in order (RFC 9260 section 3.2.1): unknown types with the high bit
    clear stop the walk (00 silently, 01 reporting), with it set are skipped (10 silently,
    11 reporting)."""
    addresses: list[str] = []
    cookie = None
    prsctp = reconfig = False
    preservative = 0
    host_name = None
    unrecognized: list[bytes] = []
    for param in params:
        if isinstance(param, _RECOGNISED):
            if isinstance(param, Ipv4Address | Ipv6Address):
                addresses.append(param.address)
            elif isinstance(param, StateCookie):
                cookie = param.cookie
            elif isinstance(param, ForwardTsnSupported):
                prsctp = True
            elif isinstance(param, SupportedExtensions):
                prsctp = prsctp or ChunkType.FORWARD_TSN in param.chunk_types
                reconfig = ChunkType.RE_CONFIG in param.chunk_types
            elif isinstance(param, CookiePreservative):
                preservative = param.increment_ms
            elif isinstance(param, HostNameAddress):
                host_name = param.serialize()
            continue
        code = param.type_code
        if code & 0x4000:
            unrecognized.append(param.serialize())
        if not code & 0x8000:
            break
    return InitParams(
        tuple(addresses),
        cookie,
        prsctp,
        reconfig,
        preservative,
        host_name,
        tuple(unrecognized),
    )


def local_init_params(config: Configuration) -> list[Param]:
    """The parameters sctpctl puts in its INIT and INIT-ACK."""
    params: list[Param] = []
    for host in config.local_addresses:
        params.append(Ipv6Address(host) if ":" in host else Ipv4Address(host))
    extensions = []
    if config.partial_reliability:
        params.append(ForwardTsnSupported())
        extensions.append(ChunkType.FORWARD_TSN)
    if config.stream_reconfiguration:
        extensions.append(ChunkType.RE_CONFIG)
    if extensions:
        params.append(SupportedExtensions(tuple(extensions)))
    return params


def local_init(
    config: Configuration,
    *,
    initiate_tag: int,
    initial_tsn: int,
    extra: tuple[Param, ...] = (),
) -> InitChunk:
    """This side's INIT: its tag, TSN, window and stream counts, the parameters it offers
    (with Supported Address Types, RFC 9260 section 3.3.2.1) and ``extra`` ones."""
    params = (*local_init_params(config), SupportedAddressTypes((5, 6)), *extra)
    return InitChunk(
        initiate_tag=initiate_tag,
        a_rwnd=config.receive_window,
        outbound_streams=config.outbound_streams,
        inbound_streams=config.max_inbound_streams,
        initial_tsn=initial_tsn,
        params=params,
    )


def same_family(host: str, addresses: tuple[str, ...]) -> tuple[str, ...]:
    """The addresses of ``host``'s family, ``host`` first: the paths this association can use."""
    v6 = ":" in host
    others = tuple(a for a in addresses if (":" in a) == v6 and a != host)
    return (host, *others)


@dataclass(frozen=True, slots=True)
class InitAnswer:
    chunk: InitAckChunk | AbortChunk
    verification_tag: int


def answer_init(
    config: Configuration,
    signer: CookieSigner,
    init: InitChunk,
    *,
    source: Address,
    local_port: int,
    peer_port: int,
    local_tag: int,
    local_initial_tsn: int,
    now: float,
    tie_tags: tuple[int, int] = (0, 0),
) -> InitAnswer | None:
    """The answer to an INIT: an INIT-ACK with a signed cookie, an ABORT, or None (no answer).

    RFC 9260 section 5.1: the receiver of an INIT keeps no state; section 3.3.2: a zero
    Initiate Tag gets no answer at all, zero stream counts an ABORT with Invalid Mandatory
    Parameter; a Host Name Address an ABORT with Unresolvable Address (section 3.3.2.1).
    """
    if init.initiate_tag == 0:
        return None
    if init.outbound_streams == 0 or init.inbound_streams == 0:
        abort = AbortChunk((Cause.invalid_mandatory_parameter(),))
        return InitAnswer(abort, init.initiate_tag)
    info = examine_params(init.params)
    if info.host_name is not None:
        abort = AbortChunk((Cause.unresolvable_address(info.host_name),))
        return InitAnswer(abort, init.initiate_tag)
    lifetime = config.valid_cookie_life
    if info.cookie_preservative_ms:
        # RFC 9260 section 5.2.6: the receiver MAY honour the suggested increment.
        lifetime += min(info.cookie_preservative_ms / 1000, config.valid_cookie_life)
    state = CookieState(
        created=now,
        lifetime=lifetime,
        local_tag=local_tag,
        peer_tag=init.initiate_tag,
        local_initial_tsn=local_initial_tsn,
        peer_initial_tsn=init.initial_tsn,
        peer_rwnd=init.a_rwnd,
        local_tie_tag=tie_tags[0],
        peer_tie_tag=tie_tags[1],
        outbound_streams=min(config.outbound_streams, init.inbound_streams),
        inbound_streams=min(config.max_inbound_streams, init.outbound_streams),
        local_port=local_port,
        peer_port=peer_port,
        udp_port=source.udp_port,
        peer_prsctp=info.partial_reliability and config.partial_reliability,
        peer_reconfig=info.reconfig and config.stream_reconfiguration,
        peer_addresses=same_family(
            source.host, info.addresses if config.use_peer_addresses else ()
        ),
    )
    params: list[Param] = [StateCookie(signer.sign(state, now=now))]
    params.extend(local_init_params(config))
    params.extend(UnrecognizedParameter(raw) for raw in info.unrecognized)
    # The same fixed part as our INIT, as INIT ACK (section 3.3.3).
    mine = local_init(config, initiate_tag=local_tag, initial_tsn=local_initial_tsn)
    ack = InitAckChunk(
        mine.initiate_tag,
        mine.a_rwnd,
        mine.outbound_streams,
        mine.inbound_streams,
        mine.initial_tsn,
        tuple(params),
    )
    return InitAnswer(ack, init.initiate_tag)
