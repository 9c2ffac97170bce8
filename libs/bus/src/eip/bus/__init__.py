"""Kafka for every service: one producer wrapper, one consumer wrapper, dead-letter topics."""

from eip.bus.codec import DecodeError, decode, encode
from eip.bus.consumer import Consumer, ConsumerConfig, Record
from eip.bus.errors import KafkaUnavailable, PoisonMessage
from eip.bus.producer import Producer, ProducerConfig

__all__ = [
    "Consumer",
    "ConsumerConfig",
    "DecodeError",
    "KafkaUnavailable",
    "PoisonMessage",
    "Producer",
    "ProducerConfig",
    "Record",
    "decode",
    "encode",
]
