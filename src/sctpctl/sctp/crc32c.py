"""CRC32c (Castagnoli), the SCTP checksum (RFC 9260 section 6.8 and appendix A).

The C implementation of google-crc32c is used when it is importable. Without it a pure-Python
table implementation takes over, after one warning: it is about 600 times slower (≈ 8,000 full
packets per second), which caps the stack far below the network.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

__all__ = ["BACKEND", "crc32c", "crc32c_extend", "crc32c_python"]

_POLYNOMIAL_REFLECTED = 0x82F63B78


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLYNOMIAL_REFLECTED if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc32c_python(data: bytes) -> int:
    """CRC32c of ``data`` computed in Python (the fallback; reflected, init and xorout ~0)."""
    return crc32c_python_extend(0, data)


def crc32c_python_extend(crc: int, data: bytes) -> int:
    """The CRC32c of (what gave ``crc``) + ``data``."""
    crc ^= 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _select() -> tuple[Callable[[bytes], int], Callable[[int, bytes], int], str]:
    try:
        import google_crc32c
    except ImportError:
        pass
    else:
        if google_crc32c.implementation == "c":
            value: Callable[[bytes], int] = google_crc32c.value
            extend: Callable[[int, bytes], int] = google_crc32c.extend
            return value, extend, "google-crc32c"
    warnings.warn(
        "google-crc32c's C extension is not available: SCTP checksums are computed in pure "
        "Python, which limits the stack to a few thousand packets per second",
        RuntimeWarning,
        stacklevel=2,
    )
    return crc32c_python, crc32c_python_extend, "python"


crc32c, crc32c_extend, BACKEND = _select()
"""``crc32c(data)``, ``crc32c_extend(crc, more)`` and the backend in use (``google-crc32c`` or
``python``)."""

# Test vector of RFC 9260 appendix A / RFC 3720: CRC32c("123456789") = 0xE3069283.
assert crc32c(b"123456789") == 0xE3069283, "CRC32c backend self-test failed"
