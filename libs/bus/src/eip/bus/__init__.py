"""Kafka for every service: one producer wrapper, one consumer wrapper, dead-letter topics."""

from eip.bus.codec import DecodeError, decode, encode, encode_value, headers_for
from eip.bus.consumer import (
    Consumer,
    ConsumerConfig,
    RebalanceFailed,
    RebalanceListener,
    Record,
)
from eip.bus.errors import KafkaUnavailable, PoisonMessage
from eip.bus.producer import (
    BatchDelivery,
    PartialSend,
    Producer,
    ProducerConfig,
    partition_for_key,
)

__all__ = [
    "BatchDelivery",
    "Consumer",
    "ConsumerConfig",
    "DecodeError",
    "KafkaUnavailable",
    "PartialSend",
    "PoisonMessage",
    "Producer",
    "ProducerConfig",
    "RebalanceFailed",
    "RebalanceListener",
    "Record",
    "decode",
    "encode",
    "encode_value",
    "headers_for",
    "partition_for_key",
]
