"""sctpctl perf against usrsctp's tsctp, and echo latency against usrsctp's client, same run.

Throughput: one tsctp server (UDP encapsulation on 127.0.0.1) is the receiver for both senders,
``tsctp`` (the client) and ``sctpctl perf client --userspace udp``; runs alternate between the
two, and the figure of each run is the one the receiver prints (its per-association CSV line:
bytes over the time from the first to the last message). 1 KiB and 64 KiB messages.

sctpctl's perf client opens with a ``start`` message (how it recognises a perf server), padded to
the size of its data messages, so tsctp counts one message more; the figure used here is the
receiver's byte count over its seconds, for both senders.

The Debian build of tsctp prints debug lines for every packet; the server's output goes to a
file (its CSV line is read from there) and the client's to /dev/null, so a terminal is never the
bottleneck. Both senders pay nothing for it; the receiver pays the same for both.

Latency: usrsctp's ``echo_server`` answers both clients. usrsctp's ``client`` and ``sctpctl
connect`` are driven the same way, through their stdin and stdout (one 32-byte line at a time,
timed from the write to the read of the echo), so pipe and process wake-up costs are the same
for both; ``sctpctl perf client --latency`` (timed inside the process) is printed too.

Figures are medians; ratios are sctpctl / usrsctp. Loopback only.

    .venv/bin/python bench/bench_perf.py [--runs 5] [--seconds 4] [--samples 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sctpctl.tools.perf import percentile

USRSCTP = Path("/usr/lib/usrsctp")
SCTPCTL = str(Path(sys.executable).with_name("sctpctl"))
SIZES = (1024, 64 * 1024)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Program:
    """A peer this script started (stopped by its PID)."""

    def __init__(self, argv: list[str], *, stdout: object = subprocess.DEVNULL, **kwargs) -> None:
        self.process = subprocess.Popen(
            argv, stdout=stdout, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()


def receiver_lines(path: Path, seen: int) -> list[list[str]]:
    """The CSV lines (7 fields) the tsctp server printed after the first ``seen`` ones."""
    rows = []
    with path.open("rb") as file:
        for raw in file:
            line = raw.decode(errors="replace").strip()
            if line.count(",") == 6 and line.split(",")[0].strip().isdigit():
                rows.append([field.strip() for field in line.split(",")])
    return rows[seen:]


def wait_for_line(path: Path, seen: int, timeout: float = 15.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = receiver_lines(path, seen)
        if rows:
            return rows[0]
        time.sleep(0.1)
    raise RuntimeError("the tsctp server printed no result line")


def throughput(runs: int, seconds: float) -> dict[int, dict[str, list[float]]]:
    server_port = free_udp_port()
    output = Path(tempfile.mkstemp(prefix="bench-tsctp-", suffix=".out")[1])
    # Line buffered, so each association's CSV line reaches the file at once.
    with output.open("wb") as sink:
        server = Program(
            ["stdbuf", "-oL", str(USRSCTP / "tsctp"), "-E", str(server_port), "-p", "5001"],
            stdout=sink,
        )
    figures: dict[int, dict[str, list[float]]] = {s: {"tsctp": [], "sctpctl": []} for s in SIZES}
    seen = 0
    try:
        time.sleep(0.5)
        for size in SIZES:
            for run in range(runs):
                order = ("tsctp", "sctpctl") if run % 2 == 0 else ("sctpctl", "tsctp")
                for sender in order:
                    if sender == "tsctp":
                        argv = [
                            str(USRSCTP / "tsctp"),
                            *("-E", str(free_udp_port()), "-U", str(server_port)),
                            *("-p", "5001", "-l", str(size), "-T", f"{seconds:g}", "127.0.0.1"),
                        ]
                    else:
                        argv = [
                            SCTPCTL,
                            *("perf", "client", "127.0.0.1:5001", "--size", str(size)),
                            *("--time", f"{seconds:g}", "--userspace", "udp", "--udp-port", "0"),
                            *("--udp-peer-port", str(server_port), "-o", "json"),
                        ]
                    subprocess.run(
                        argv,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        check=True,
                        timeout=seconds + 60,
                    )
                    row = wait_for_line(output, seen)
                    seen += 1
                    rate = int(row[3]) / float(row[4])  # bytes / seconds at the receiver
                    figures[size][sender].append(rate)
                    print(
                        f"  {size:>6} B  {sender:<8} receiver: {rate / 1e6:6.2f} MB/s"
                        f" ({row[1]} messages)",
                        flush=True,
                    )
    finally:
        server.stop()
        output.unlink()
    return figures


def _echo_rounds(argv: list[str], samples: int) -> list[float]:
    """Write one 32-byte line at a time to the program's stdin; time until its stdout shows it."""
    process = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert process.stdin is not None and process.stdout is not None
    out = process.stdout.fileno()
    buffer = b""

    def read_until(needle: bytes, timeout: float) -> None:
        nonlocal buffer
        deadline = time.monotonic() + timeout
        while needle not in buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([out], [], [], left)[0]:
                raise RuntimeError(f"no {needle!r} from {argv[0]}")
            chunk = os.read(out, 65536)
            if not chunk:
                raise RuntimeError(f"{argv[0]} ended")
            buffer += chunk
        buffer = buffer[buffer.index(needle) + len(needle) :]

    rtts = []
    try:
        for i in range(samples + 50):
            line = f"{i:031d}\n".encode()
            start = time.perf_counter()
            process.stdin.write(line)
            process.stdin.flush()
            read_until(line, 30 if i == 0 else 10)  # the first waits for the handshake
            if i >= 50:  # warm-up rounds are not counted
                rtts.append(time.perf_counter() - start)
    finally:
        process.stdin.close()
        if process.poll() is None:
            os.killpg(process.pid, 15)
        process.wait(timeout=10)
        process.stdout.close()
    return rtts


ROUNDS = 6
"""Latency rounds per client, interleaved, so a noisy moment hits both clients alike; the p99
ratio is also taken per round (the two clients' rounds are next to each other in time) and its
median printed, which the load of the rest of the machine moves less than pooled figures."""


def latency(samples: int) -> tuple[dict[str, list[float]], list[float]]:
    """Round-trip times of both pipe-driven clients (pooled over interleaved rounds), the
    p50/p90/p99 that ``sctpctl perf --latency`` reports (median of its rounds), and the p99
    ratio sctpctl connect / usrsctp client of each round."""
    port = free_udp_port()
    server = Program([str(USRSCTP / "echo_server"), str(port)])
    clients = {
        "usrsctp client": [
            str(USRSCTP / "client"),
            "127.0.0.1",
            "7",
            "0",
            str(free_udp_port()),
            str(port),
        ],
        "sctpctl connect": [
            SCTPCTL,
            "connect",
            "127.0.0.1:7",
            "--wait",
            "0",
            "--userspace",
            "udp",
            "--udp-port",
            "0",
            "--udp-peer-port",
            str(port),
        ],
    }
    perf_argv = [
        SCTPCTL,
        "perf",
        "client",
        "127.0.0.1:7",
        "--latency",
        "--size",
        "32",
        "--time",
        "2",
        "--userspace",
        "udp",
        "--udp-port",
        "0",
        "--udp-peer-port",
        str(port),
        "-o",
        "json",
    ]
    results: dict[str, list[float]] = {name: [] for name in clients}
    perf_rounds: list[list[float]] = []
    round_ratios: list[float] = []
    try:
        time.sleep(0.5)
        for round_ in range(ROUNDS):
            names = list(clients) if round_ % 2 == 0 else list(reversed(clients))
            p99: dict[str, float] = {}
            for name in names:
                rtts = _echo_rounds(clients[name], samples // ROUNDS)
                results[name] += rtts
                p99[name] = percentile(sorted(rtts), 0.99)
            round_ratios.append(p99["sctpctl connect"] / p99["usrsctp client"])
            perf = subprocess.run(perf_argv, capture_output=True, check=True, timeout=60)
            report = json.loads(perf.stdout)["latency"]
            perf_rounds.append([report[key] / 1e3 for key in ("p50Ms", "p90Ms", "p99Ms")])
    finally:
        server.stop()
    results["sctpctl perf --latency"] = [
        statistics.median(r[i] for r in perf_rounds) for i in range(3)
    ]
    return results, round_ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    if not (USRSCTP / "tsctp").exists():
        sys.exit("needs usrsctp's example programs (apt-get install libusrsctp-examples)")

    print(f"throughput: {args.runs} runs of {args.seconds:g} s per sender and size, interleaved")
    figures = throughput(args.runs, args.seconds)
    print("\nthroughput at the same tsctp receiver (medians)")
    print(f"{'size':>8}  {'tsctp MB/s':>10}  {'sctpctl MB/s':>12}  {'ratio':>6}")
    for size in SIZES:
        usr = statistics.median(figures[size]["tsctp"])
        ours = statistics.median(figures[size]["sctpctl"])
        print(f"{size:>8}  {usr / 1e6:>10.2f}  {ours / 1e6:>12.2f}  {ours / usr:>6.2f}")

    print(f"\necho latency against usrsctp's echo_server ({args.samples} round trips)")
    rounds, round_ratios = latency(args.samples)
    print(f"{'client':<24} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}")
    table = {}
    for name, values in rounds.items():
        if name == "sctpctl perf --latency":
            p50, p90, p99 = values
        else:
            ordered = sorted(values)
            p50, p90, p99 = (percentile(ordered, f) for f in (0.50, 0.90, 0.99))
        table[name] = (p50, p90, p99)
        print(f"{name:<24} {p50 * 1e3:>8.3f} {p90 * 1e3:>8.3f} {p99 * 1e3:>8.3f}")
    usr_p99 = table["usrsctp client"][2]
    print(
        f"p99 ratio sctpctl connect / usrsctp client: {table['sctpctl connect'][2] / usr_p99:.2f}"
        f"; sctpctl perf --latency / usrsctp client: "
        f"{table['sctpctl perf --latency'][2] / usr_p99:.2f}"
    )
    print(
        f"p99 ratio sctpctl connect / usrsctp client per round: median"
        f" {statistics.median(round_ratios):.2f} (rounds: "
        + ", ".join(f"{r:.2f}" for r in round_ratios)
        + ")"
    )


if __name__ == "__main__":
    main()
