"""Encoding and decoding of protobuf payloads, with the checks a consumer relies on.

A record carries its schema's full name in the ``schema`` header, so a consumer can refuse a
payload of the wrong type instead of misreading it (protobuf parses almost any bytes as almost
any message).
"""

from __future__ import annotations

from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message

from eip.events.topics import TopicSpec

SCHEMA_HEADER = "schema"
CONTENT_TYPE_HEADER = "content-type"
CONTENT_TYPE = b"application/x-protobuf"

Headers = list[tuple[str, bytes]]


class DecodeError(Exception):
    """The payload is not a valid message of the topic's schema."""


def encode(spec: TopicSpec, message: Message) -> tuple[bytes, Headers]:
    if not isinstance(message, spec.payload):
        raise TypeError(
            f"{spec.name} carries {spec.payload.DESCRIPTOR.full_name}, "
            f"not {message.DESCRIPTOR.full_name}"
        )
    headers: Headers = [
        (CONTENT_TYPE_HEADER, CONTENT_TYPE),
        (SCHEMA_HEADER, spec.payload.DESCRIPTOR.full_name.encode()),
    ]
    return message.SerializeToString(), headers


_HEADERS: dict[tuple[str, type[Message]], Headers] = {}


def headers_for(spec: TopicSpec) -> Headers:
    """The constant headers of a topic's records, built once: a fresh list per record was a
    visible share of the publishing path (bench/market_data_pipeline.py). Do not mutate."""
    cache_key = (spec.name, spec.payload)
    headers = _HEADERS.get(cache_key)
    if headers is None:
        headers = _HEADERS[cache_key] = [
            (CONTENT_TYPE_HEADER, CONTENT_TYPE),
            (SCHEMA_HEADER, spec.payload.DESCRIPTOR.full_name.encode()),
        ]
    return headers


def encode_value(spec: TopicSpec, message: Message) -> bytes:
    """The payload alone, checked like ``encode``; pair it with ``headers_for(spec)``."""
    if type(message) is not spec.payload and not isinstance(message, spec.payload):
        raise TypeError(
            f"{spec.name} carries {spec.payload.DESCRIPTOR.full_name}, "
            f"not {message.DESCRIPTOR.full_name}"
        )
    return message.SerializeToString()


def decode(spec: TopicSpec, value: bytes | None, headers: Headers) -> Message:
    if value is None:
        raise DecodeError("empty value (tombstone) where a message was expected")
    expected = spec.payload.DESCRIPTOR.full_name
    schema = dict(headers).get(SCHEMA_HEADER)
    if schema is not None and schema.decode(errors="replace") != expected:
        raise DecodeError(
            f"schema header says {schema.decode(errors='replace')!r}, topic carries {expected!r}"
        )
    message = spec.payload()
    try:
        message.ParseFromString(value)
    except ProtobufDecodeError as exc:
        raise DecodeError(f"not a valid {expected}: {exc}") from None
    if schema is None:
        raise DecodeError(f"missing {SCHEMA_HEADER!r} header")
    return message
