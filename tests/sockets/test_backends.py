"""Backend selection and the kernel backend's view of the Linux SCTP socket API."""

from __future__ import annotations

import pytest

from sctpctl.sockets import NoSctpError, kernel
from sctpctl.sockets.addresses import parse_endpoint
from sctpctl.sockets.backends import open_stack


def test_the_linux_sctp_structures_have_their_abi_sizes():
    # struct sctp_sndinfo (16 bytes), struct sctp_rcvinfo (28), struct sctp_initmsg (8):
    # linux/include/uapi/linux/sctp.h.
    assert kernel._SNDINFO.size == 16
    assert kernel._RCVINFO.size == 28
    assert kernel._INITMSG.size == 8
    # The PPID is opaque to the kernel and travels in network byte order.
    packed = kernel._SNDINFO.pack(3, kernel.SCTP_UNORDERED, (46).to_bytes(4), 0, 0)
    assert packed[4:8] == b"\x00\x00\x00\x2e"


async def test_without_kernel_sctp_and_without_a_service_there_is_no_sctp(monkeypatch):
    monkeypatch.setattr("sctpctl.sockets.backends.kernel_sctp_available", lambda: False)
    monkeypatch.setattr(
        "sctpctl.sockets.backends.HostStack.find", staticmethod(_nobody), raising=True
    )
    with pytest.raises(NoSctpError) as caught:
        await open_stack()
    assert caught.value.message == "SCTP is not available in this network namespace"


async def _nobody(*_args: object) -> None:
    return None


@pytest.mark.parametrize(
    ("text", "host_required", "expected"),
    [
        ("10.0.0.1:7000", True, ("10.0.0.1", 7000)),
        ("[2001:db8::1]:38412", True, ("2001:db8::1", 38412)),
        ("svc.ns.svc:80", True, ("svc.ns.svc", 80)),
        ("7000", False, (None, 7000)),
    ],
)
def test_endpoints_parse(text, host_required, expected):
    assert parse_endpoint(text, host_required=host_required) == expected


@pytest.mark.parametrize("text", ["7000", "2001:db8::1:80", "host:0", "host:65536", ":80", "[::1]"])
def test_bad_endpoints_are_refused(text):
    with pytest.raises(ValueError):
        parse_endpoint(text, host_required=True)
