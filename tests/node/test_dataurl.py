"""data: URLs decode the way Ignition decodes file contents (RFC 2397)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sctpctl.node.dataurl import DataUrl, DataUrlError, encode_data_url, parse_data_url


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("data:,", b""),
        ("data:,sctp", b"sctp"),
        ("data:text/plain;charset=utf-8,sctp", b"sctp"),
        ("data:,sctp%0A", b"sctp\n"),
        ("data:,blacklist%20sctp", b"blacklist sctp"),
        ("data:;base64,c2N0cAo=", b"sctp\n"),
        ("data:text/plain;charset=utf-8;base64,c2N0cA==", b"sctp"),
        ("data:text/plain;base64,c2N0%63A==", b"sctp"),  # percent-decoding comes first
        ("DATA:,x", b"x"),
        ("data:,a,b", b"a,b"),  # only the first comma separates
    ],
)
def test_data_urls_decode_to_their_bytes(url: str, data: bytes) -> None:
    assert parse_data_url(url).data == data


def test_media_type_and_parameters_are_kept_apart_from_the_bytes() -> None:
    assert parse_data_url("data:text/plain;charset=utf-8,sctp") == DataUrl(
        "text/plain", (("charset", "utf-8"),), False, b"sctp"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com/x", "does not start with 'data:'"),
        ("data:sctp", "needs a ','"),
        ("data:text,sctp", "type/subtype"),
        ("data:text/plain;charset,sctp", "key=value"),
        ("data:,100%", "'%' at offset 3"),
        ("data:,%zz", "two hex digits"),
        ("data:;base64,c2N0cA", "not valid base64"),
        ("data:;base64,c2N0cA=!", "not valid base64"),
    ],
)
def test_malformed_data_urls_say_why(url: str, message: str) -> None:
    with pytest.raises(DataUrlError, match=message):
        parse_data_url(url)


def test_encoding_keeps_short_texts_readable() -> None:
    assert encode_data_url(b"") == "data:,"
    assert encode_data_url(b"sctp") == "data:,sctp"
    assert encode_data_url(b"sctp\n") == "data:,sctp%0A"
    assert encode_data_url(b"sctp", media_type="text/plain;charset=utf-8") == (
        "data:text/plain;charset=utf-8,sctp"
    )
    assert encode_data_url(b"sctp\n", as_base64=True) == "data:;base64,c2N0cAo="


@given(st.binary(max_size=200), st.booleans())
def test_encoding_round_trips(data: bytes, as_base64: bool) -> None:
    assert parse_data_url(encode_data_url(data, as_base64=as_base64)).data == data
