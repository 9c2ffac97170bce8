"""Topic administration: create every registered topic idempotently, read configs back.

``python -m eip.bus.admin create-topics`` creates what is missing, raises partition counts that
are below the registry's, and brings topic configs in line with it; running it again changes
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, for_code

from eip.bus.errors import KafkaUnavailable
from eip.events.topics import TopicSpec, all_topic_specs

_TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True)
class TopicChange:
    topic: str
    action: str  # "created", "partitions", "config", "unchanged"


@asynccontextmanager
async def admin_client(
    bootstrap_servers: str,
    timeout_s: float = 5.0,
) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="eip-admin",
        request_timeout_ms=int(timeout_s * 1000) * 3,
    )
    try:
        await asyncio.wait_for(client.start(), timeout_s)
    except (TimeoutError, KafkaError, OSError) as exc:
        await client.close()
        raise KafkaUnavailable(
            f"Kafka at {bootstrap_servers} did not answer within {timeout_s}s "
            f"({type(exc).__name__}: {exc}); is it running? `make up` starts a local broker"
        ) from None
    try:
        yield client
    finally:
        await client.close()


async def topic_config(client: AIOKafkaAdminClient, topic: str) -> dict[str, str]:
    """The topic's effective configuration as the broker reports it."""
    responses = await client.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    config: dict[str, str] = {}
    for response in responses:
        for resource in response.resources:
            error_code, error_message = resource[0], resource[1]
            if error_code:
                raise for_code(error_code)(f"describe {topic}: {error_message}")
            for entry in resource[4]:
                config[entry[0]] = entry[1]
    return config


async def ensure_topics(
    client: AIOKafkaAdminClient,
    specs: Iterable[TopicSpec],
    replication_factor: int = 1,
) -> list[TopicChange]:
    specs = list(specs)
    existing = {t["topic"]: t for t in await client.describe_topics()}
    changes: list[TopicChange] = []
    missing = [s for s in specs if s.name not in existing]
    if missing:
        response = await client.create_topics(
            [
                NewTopic(s.name, s.partitions, replication_factor, topic_configs=s.config())
                for s in missing
            ]
        )
        already: set[str] = set()
        for topic, code, *rest in response.topic_errors:
            if code == _TOPIC_ALREADY_EXISTS:
                # Metadata lags creation (KRaft, or another process created it a moment ago):
                # the topic is there but was not described, so it still needs reconciling.
                already.add(topic)
            elif code:
                raise for_code(code)(f"create {topic}: {rest[0] if rest else ''}")
        changes += [TopicChange(s.name, "created") for s in missing if s.name not in already]
        if already:
            existing.update(await _described(client, sorted(already)))
    for spec in specs:
        if spec.name not in existing:
            continue
        changes.append(await _reconcile(client, spec, existing[spec.name]))
    return changes


async def _described(
    client: AIOKafkaAdminClient, topics: list[str], timeout_s: float = 15.0
) -> dict[str, dict[str, Any]]:
    """Metadata of topics the broker says exist, waiting until it also describes them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        found = {
            t["topic"]: t
            for t in await client.describe_topics(topics)
            if not t.get("error_code") and t.get("partitions")
        }
        if len(found) == len(topics):
            return found
        if loop.time() > deadline:
            missing = sorted(set(topics) - set(found))
            raise TimeoutError(f"topics exist but are not described after {timeout_s}s: {missing}")
        await asyncio.sleep(0.1)


async def _reconcile(
    client: AIOKafkaAdminClient,
    spec: TopicSpec,
    metadata: dict[str, Any],
) -> TopicChange:
    action = "unchanged"
    if len(metadata["partitions"]) < spec.partitions:
        await client.create_partitions({spec.name: NewPartitions(spec.partitions)})
        action = "partitions"
    current = await topic_config(client, spec.name)
    wanted = spec.config()
    if any(current.get(k) != v for k, v in wanted.items()):
        responses = await client.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, spec.name, configs=wanted)]
        )
        for response in responses:
            for resource in response.resources:
                if resource[0]:
                    raise for_code(resource[0])(f"alter {spec.name}: {resource[1]}")
        action = "config" if action == "unchanged" else action
        await _until_visible(client, spec.name, wanted)
    return TopicChange(spec.name, action)


async def _until_visible(
    client: AIOKafkaAdminClient,
    topic: str,
    wanted: dict[str, str],
    timeout_s: float = 15.0,
) -> None:
    """Wait until the broker reports the new config: KRaft applies changes asynchronously, and
    a caller that reads back right away must see what it asked for."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        current = await topic_config(client, topic)
        if all(current.get(k) == v for k, v in wanted.items()):
            return
        if loop.time() > deadline:
            raise TimeoutError(f"config of {topic} not visible after {timeout_s}s: {wanted}")
        await asyncio.sleep(0.1)


async def _create_all(bootstrap_servers: str) -> list[TopicChange]:
    async with admin_client(bootstrap_servers) as client:
        return await ensure_topics(client, all_topic_specs())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["create-topics"])
    parser.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092"),
    )
    args = parser.parse_args(argv)
    try:
        changes = asyncio.run(_create_all(args.bootstrap_servers))
    except (KafkaUnavailable, KafkaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for change in changes:
        print(f"{change.action:>10}  {change.topic}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
