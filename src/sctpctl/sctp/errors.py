"""The error vocabulary of the protocol core.

::

    SctpError
     ├── MalformedPacket      bytes that are not an SCTP packet (the codec's only error)
     ├── LocalProtocolError   the caller misused the API; the object is unchanged
     └── ProtocolViolation    the peer broke a rule; raised inside handlers and turned into an
                              ABORT at one choke point (Association.receive_packet)
"""

from __future__ import annotations

__all__ = ["LocalProtocolError", "MalformedPacket", "ProtocolViolation", "SctpError"]


class SctpError(Exception):
    """Base class of every error the protocol core raises."""


class MalformedPacket(SctpError, ValueError):
    """The bytes are not a well-formed SCTP packet (RFC 9260 section 3): nothing was built."""


class LocalProtocolError(SctpError):
    """The caller asked for something the association cannot do in its state; nothing changed."""


class ProtocolViolation(SctpError):
    """The peer violated the protocol; the association answers with ABORT carrying ``cause``."""

    def __init__(self, cause: int, detail: str, info: bytes = b"") -> None:
        super().__init__(detail)
        self.cause = cause
        self.detail = detail
        self.info = info
