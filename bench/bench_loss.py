"""Throughput under 1% random packet loss, against the same path without loss, same run.

Two network namespaces this script creates, joined by a veth pair; ``sctpctl perf server`` in
one, ``sctpctl perf client`` in the other, both running SCTP in-process over raw IP. Loss is an
nftables rule in each namespace's input hook (``numgen random mod 100 < 1 drop`` for SCTP), so
DATA and SACK are both lost at 1%. Runs alternate between the lossless and the lossy path; the
figure of a run is the client's bytes per second. The target (reference: performance targets)
is at least half the lossless throughput. Figures are medians; the ratio is lossy / lossless.

Needs root. Everything it creates is removed at the end, also on error or Ctrl-C.

    .venv/bin/python bench/bench_loss.py [--runs 5] [--seconds 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SCTPCTL = str(Path(sys.executable).with_name("sctpctl"))
SIZES = (1024, 64 * 1024)
SENDER, RECEIVER = "sctpctl-bench-loss-a", "sctpctl-bench-loss-b"
SENDER_IP, RECEIVER_IP = "10.254.71.1", "10.254.71.2"
PORT = 5001
LOSS_TABLE = """table inet sctpctl_bench_loss {
    chain input {
        type filter hook input priority 0; policy accept;
        meta l4proto sctp numgen random mod 100 < %d drop
    }
}
"""


def run(*argv: str, stdin: str | None = None) -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout


def netns(name: str, *argv: str, stdin: str | None = None) -> str:
    return run("ip", "netns", "exec", name, *argv, stdin=stdin)


def create_path() -> None:
    for name in (SENDER, RECEIVER):
        run("ip", "netns", "add", name)
        netns(name, "ip", "link", "set", "lo", "up")
    run(*f"ip link add blossa netns {SENDER} type veth peer name blossb netns {RECEIVER}".split())
    for name, device, address in ((SENDER, "blossa", SENDER_IP), (RECEIVER, "blossb", RECEIVER_IP)):
        netns(name, "ip", "addr", "add", f"{address}/24", "dev", device)
        netns(name, "ip", "link", "set", device, "up")


def remove_path() -> None:
    for name in (SENDER, RECEIVER):
        subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)


def set_loss(percent: int) -> None:
    for name in (SENDER, RECEIVER):
        subprocess.run(
            ["ip", "netns", "exec", name, "nft", "delete", "table", "inet", "sctpctl_bench_loss"],
            capture_output=True,
            check=False,
        )
        if percent:
            netns(name, "nft", "-f", "-", stdin=LOSS_TABLE % percent)


def measure(size: int, seconds: float) -> float:
    server = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            RECEIVER,
            SCTPCTL,
            *f"perf server --port {PORT} --userspace raw".split(),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(1.0)  # the server's raw socket is open
        client = f"perf client {RECEIVER_IP}:{PORT} --userspace raw --size {size} --time {seconds}"
        out = netns(SENDER, SCTPCTL, *client.split(), "-o", "json")
        return float(json.loads(out)["bytesPerSecond"])
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--loss", type=int, default=1, help="percent of packets dropped")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_loss needs root (network namespaces, raw sockets)", file=sys.stderr)
        return 2
    remove_path()
    create_path()
    try:
        print(
            f"1 association, raw IP over veth between two namespaces, {args.loss}% loss each way,"
            f" {args.runs} runs of {args.seconds:g} s; medians"
        )
        print(f"{'size':>8}  {'lossless MB/s':>14}  {'lossy MB/s':>11}  {'ratio':>6}")
        for size in SIZES:
            clean: list[float] = []
            lossy: list[float] = []
            for _ in range(args.runs):
                set_loss(0)
                clean.append(measure(size, args.seconds))
                set_loss(args.loss)
                lossy.append(measure(size, args.seconds))
            a, b = statistics.median(clean), statistics.median(lossy)
            print(f"{size:>8}  {a / 1e6:>14.1f}  {b / 1e6:>11.1f}  {b / a:>6.2f}")
    finally:
        remove_path()
    return 0


if __name__ == "__main__":
    sys.exit(main())
