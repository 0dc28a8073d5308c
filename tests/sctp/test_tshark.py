"""Wireshark's SCTP dissector reads every packet of a busy association's life as well formed,
with a correct CRC32c: an independent check of the codec on real traffic shapes (bundles, gap
blocks, FORWARD TSN, RE-CONFIG, heartbeats, shutdown)."""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from sctpctl.sctp.association import State
from sctpctl.sctp.chunks import parse_packet
from sctpctl.sctp.config import Configuration
from sctpctl.sctp.events import AssociationClosed, MessageReceived

from .harness import Link, Pair, seeded

pytestmark = pytest.mark.skipif(
    shutil.which("tshark") is None, reason="needs tshark (apt-get install tshark)"
)


def _ipv4(source: str, destination: str, payload: bytes) -> bytes:
    """An IPv4 header (protocol 132) with a valid header checksum, then ``payload``."""
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(payload),
        0,
        0x4000,
        64,
        132,
        0,
        bytes(int(x) for x in source.split(".")),
        bytes(int(x) for x in destination.split(".")),
    )
    total = sum(struct.unpack("!10H", header))
    total = (total & 0xFFFF) + (total >> 16)
    checksum = ~((total & 0xFFFF) + (total >> 16)) & 0xFFFF
    return header[:10] + struct.pack("!H", checksum) + header[12:] + payload


def _pcap(frames: list[bytes]) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)]  # LINKTYPE_RAW
    for i, frame in enumerate(frames):
        out.append(struct.pack("<IIII", i, 0, len(frame), len(frame)) + frame)
    return b"".join(out)


def test_tshark_finds_no_malformed_packet_and_no_bad_checksum(tmp_path: Path) -> None:
    pair = Pair(
        client=Configuration(random_bytes=seeded(21), receive_window=64 * 1024),
        server=Configuration(random_bytes=seeded(22)),
        to_server=Link(loss=0.05, reorder=0.1, rng=random.Random(3)),
        to_client=Link(loss=0.05, rng=random.Random(4)),
    )
    frames: list[bytes] = []
    original = pair.flush

    def recording_flush() -> None:
        for endpoint, (src, dst) in (
            (pair.client, ("192.0.2.1", "192.0.2.2")),
            (pair.server, ("192.0.2.2", "192.0.2.1")),
        ):
            packets = endpoint.packets_to_send(now=pair.now)
            frames.extend(_ipv4(src, dst, data) for data, _ in packets)
            endpoint._ready.extend(packets)  # put them back for the link
        original()

    pair.flush = recording_flush  # type: ignore[method-assign]
    association = pair.connect()
    pair.run(lambda: association.state is State.ESTABLISHED)
    for i in range(60):
        association.send(
            bytes([i]) * (1 + 997 * i), stream=i % 3, unordered=i % 4 == 0, now=pair.now
        )
    association.send(b"expires", ttl=0.0, now=pair.now)
    association.reset_streams((1,), now=pair.now)
    pair.run(lambda: len(pair.events("s", MessageReceived)) == 60, max_time=600)
    pair.run(max_time=40)  # heartbeats on the idle paths
    association.shutdown(now=pair.now)
    pair.run(lambda: bool(pair.events("c", AssociationClosed)), max_time=600)
    kinds = {type(c).__name__ for frame in frames for c in parse_packet(frame[20:]).chunks}
    assert {"DataChunk", "SackChunk", "HeartbeatChunk", "ReconfigChunk", "ShutdownChunk"} <= kinds

    capture = tmp_path / "core.pcap"
    capture.write_bytes(_pcap(frames))
    result = subprocess.run(
        [
            "tshark",
            "-n",
            "-r",
            str(capture),
            "-o",
            "sctp.checksum:CRC-32C",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "sctp.checksum.status",
            "-e",
            "_ws.malformed",
            "-e",
            "_ws.expert.severity",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert len(rows) == len(frames)
    bad = [r for r in rows if r[1] != "1" or r[2]]  # checksum status 1 = good
    assert bad == []
