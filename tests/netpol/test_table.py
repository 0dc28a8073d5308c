"""Truth tables as data: cells, glyphs, comparison of expected with observed, rendering."""

from __future__ import annotations

import pytest

from sctpctl.netpol import Connectivity, PortProtocol, Protocol, TableView, TruthTable, compare

PODS = ("x/a", "x/b", "y/a")
SCTP_80 = PortProtocol(80, Protocol.SCTP)


def expected() -> TruthTable:
    return TruthTable(SCTP_80, PODS, PODS, ("X..", "X..", "..."), TableView.COMBINED, 4)


def test_cells_and_counts() -> None:
    table = expected()
    assert table.cell("x/b", "x/a") is Connectivity.DENIED
    assert table.cell("y/a", "x/a") is Connectivity.ALLOWED
    assert table.counts()[Connectivity.ALLOWED] == 7
    assert table.title == "SCTP 80 (combined, IPv4)"


def test_observed_tables_hold_sctp_outcomes() -> None:
    outcomes = {("x/b", "x/a"): Connectivity.TIMEOUT, ("y/a", "y/a"): Connectivity.ABORTED}
    observed = TruthTable.from_cells(
        SCTP_80,
        PODS,
        PODS,
        lambda s, d: outcomes.get((s, d), Connectivity.ALLOWED),
    )
    assert observed.rows == ("...", "T..", "..A")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (("X..", "X.."), "2 rows for 3 sources"),
        (("X..", "X.", "..."), "has 2 cells"),
        (("X..", "X.Z", "..."), "glyphs"),
    ],
)
def test_malformed_tables_are_refused(rows: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TruthTable(SCTP_80, PODS, PODS, rows)


def test_compare_lists_wrong_cells_and_draws_them_side_by_side() -> None:
    observed = TruthTable(SCTP_80, PODS, PODS, ("T..", ".?.", "..."))
    comparison = compare(expected(), observed)
    assert [(m.source, m.destination, m.expected, m.observed) for m in comparison.mismatches] == [
        ("x/a", "x/a", Connectivity.DENIED, Connectivity.TIMEOUT),
        ("x/b", "x/a", Connectivity.DENIED, Connectivity.ALLOWED),
        ("x/b", "x/b", Connectivity.ALLOWED, Connectivity.UNKNOWN),
    ]
    assert comparison.table.rows == ("X..", "XX.", "...")
    assert comparison.summary() == "Discrepancy found: 3 wrong, 6 correct"
    assert comparison.render().splitlines() == [
        "expected                    observed              comparison (. right, X wrong)",
        "SCTP 80 (combined, IPv4)    SCTP 80 (combined)    SCTP 80 (combined)",
        "-   x/a x/b y/a             -   x/a x/b y/a       -   x/a x/b y/a",
        "x/a  X   .   .              x/a  T   .   .        x/a  X   .   .",
        "x/b  X   .   .              x/b  .   ?   .        x/b  X   X   .",
        "y/a  .   .   .              y/a  .   .   .        y/a  .   .   .",
        "Discrepancy found: 3 wrong, 6 correct",
    ]


def test_equal_tables_compare_clean() -> None:
    comparison = compare(expected(), expected())
    assert not comparison.mismatches
    assert comparison.summary() == "0 wrong, 9 correct"


def test_tables_over_other_pods_cannot_be_compared() -> None:
    other = TruthTable(SCTP_80, PODS[:2], PODS[:2], ("..", ".."))
    with pytest.raises(ValueError, match="same sources and destinations"):
        compare(expected(), other)
    tcp = TruthTable(PortProtocol(80, Protocol.TCP), PODS, PODS, expected().rows)
    with pytest.raises(ValueError, match="different ports"):
        compare(expected(), tcp)


def test_json_form() -> None:
    assert expected().to_dict() == {
        "protocol": "SCTP",
        "port": 80,
        "view": "combined",
        "family": 4,
        "from": list(PODS),
        "to": list(PODS),
        "matrix": [["X", ".", "."], ["X", ".", "."], [".", ".", "."]],
        "counts": {"allowed": 7, "denied": 2},
    }


def test_large_tables_render_compact_with_two_digit_rulers() -> None:
    names = tuple(f"n/p{i}" for i in range(12))
    table = TruthTable(SCTP_80, names, names, tuple("." * 12 for _ in names))
    lines = table.render(compact=True).splitlines()
    assert lines[1:3] == ["         000000000011", "         012345678901"]
    assert lines[3] == " 0 n/p0  ............"
    assert lines[-1] == "11 n/p11 ............"


def test_the_public_names_are_exported_and_sorted() -> None:
    import sctpctl.netpol as netpol

    assert netpol.__all__ == sorted(netpol.__all__)
    assert all(hasattr(netpol, name) for name in netpol.__all__)
