"""``data:`` URLs (RFC 2397), the way Ignition carries file contents inside a MachineConfig.

Grammar (RFC 2397 section 3)::

    dataurl    := "data:" [ mediatype ] [ ";base64" ] "," data
    mediatype  := [ type "/" subtype ] *( ";" parameter )

Without ``;base64`` the data is percent-encoded octets (``data:,sctp%0A`` is ``b"sctp\\n"``); with
it, the data is base64 after percent-decoding. The media type and its parameters (``charset``)
describe the bytes but never change them: Ignition writes the decoded octets as they are, so
``data:,sctp`` and ``data:text/plain;charset=utf-8,sctp`` produce the same file.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from dataclasses import dataclass

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_MEDIA_TYPE_RE = re.compile(rf"^{_TOKEN}/{_TOKEN}$")
_PARAMETER_RE = re.compile(rf"^{_TOKEN}=.*$")
_PERCENT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")

DEFAULT_MEDIA_TYPE = "text/plain;charset=US-ASCII"
"What an omitted media type means (RFC 2397 section 2)."


class DataUrlError(ValueError):
    """A string that is not a well-formed ``data:`` URL; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class DataUrl:
    """A decoded ``data:`` URL."""

    media_type: str
    "``type/subtype`` as written, or ```` when omitted (which means :data:`DEFAULT_MEDIA_TYPE`)."
    parameters: tuple[tuple[str, str], ...]
    "``key=value`` parameters of the media type, in order (``charset``)."
    is_base64: bool
    data: bytes
    "The decoded octets."


def is_data_url(url: str) -> bool:
    return url[:5].lower() == "data:"


def parse_data_url(url: str) -> DataUrl:
    """Decode a ``data:`` URL, or raise :class:`DataUrlError` saying why it is malformed."""
    if not is_data_url(url):
        raise DataUrlError(f"{_shorten(url)!r} does not start with 'data:'")
    header, comma, payload = url[5:].partition(",")
    if not comma:
        raise DataUrlError("a data: URL needs a ',' between the media type and the data")
    parts = header.split(";")
    media_type, parameters = parts[0], parts[1:]
    if media_type and not _MEDIA_TYPE_RE.match(media_type):
        raise DataUrlError(f"media type {media_type!r} is not of the form type/subtype")
    is_base64 = bool(parameters) and parameters[-1].lower() == "base64"
    if is_base64:
        parameters = parameters[:-1]
    pairs: list[tuple[str, str]] = []
    for parameter in parameters:
        if not _PARAMETER_RE.match(parameter):
            raise DataUrlError(f"media type parameter {parameter!r} is not of the form key=value")
        key, _, value = parameter.partition("=")
        pairs.append((key.lower(), urllib.parse.unquote(value)))
    octets = _percent_decode(payload)
    if is_base64:
        try:
            octets = base64.b64decode(octets, validate=True)
        except binascii.Error as error:
            raise DataUrlError(f"the data is not valid base64: {error}") from error
    return DataUrl(media_type, tuple(pairs), is_base64, octets)


def encode_data_url(data: bytes, *, media_type: str = "", as_base64: bool = False) -> str:
    """The ``data:`` URL of ``data``: percent-encoded by default, base64 on request.

    Letters, digits and ``-._~`` stay as they are, so short texts remain readable
    (``b"sctp"`` becomes ``data:,sctp``); every other octet is written ``%XX``.
    """
    if media_type and not _MEDIA_TYPE_RE.match(media_type.split(";")[0]):
        raise ValueError(f"media type {media_type!r} is not of the form type/subtype")
    if as_base64:
        return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"
    return f"data:{media_type},{urllib.parse.quote_from_bytes(data, safe='')}"


def _percent_decode(text: str) -> bytes:
    bad = _PERCENT_RE.search(text)
    if bad is not None:
        raise DataUrlError(
            f"'%' at offset {bad.start()} of the data is not followed by two hex digits "
            "(write a literal '%' as %25)"
        )
    return urllib.parse.unquote_to_bytes(text)


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
