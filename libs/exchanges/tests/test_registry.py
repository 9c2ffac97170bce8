"""The registry names only factories that exist, and every name finds exactly one venue."""

from __future__ import annotations

import importlib
import inspect
from collections import Counter
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from eip.exchanges import registry
from eip.exchanges.machinery.capture import BookCaptureDialect
from eip.exchanges.machinery.replay.parser import ReplayDialect

REFERENCES: dict[str, Callable[[Any], bool]] = {
    "market_data": callable,
    "book": callable,
    "credentials": callable,
    "trading": callable,
    "replay": lambda found: isinstance(found, ReplayDialect),
    "book_capture": lambda found: isinstance(found, BookCaptureDialect),
}


def test_every_factory_the_registry_names_exists_in_the_venues_package() -> None:
    assert set(REFERENCES) <= {f.name for f in fields(registry.Venue)}
    checked = 0
    for venue in registry.VENUES:
        for name, fits in REFERENCES.items():
            reference = getattr(venue, name)
            if reference is None:
                continue
            module, _, attribute = reference.partition(":")
            assert module.startswith(f"eip.exchanges.{venue.id}."), (venue.id, reference)
            found = getattr(importlib.import_module(module), attribute)
            assert fits(found), (venue.id, name, found)
            checked += 1
    assert checked >= 20


def test_every_name_finds_one_venue_and_former_names_only_when_asked() -> None:
    names = Counter(
        name
        for venue in registry.VENUES
        for name in (venue.id, *venue.aliases, *venue.former_names)
    )
    assert [name for name, count in names.items() if count > 1] == []
    for venue in registry.VENUES:
        assert registry.find(venue.id.upper()) is venue
        for alias in venue.aliases:
            assert registry.find(alias) is venue
        for former in venue.former_names:
            assert registry.find(former) is None
            assert registry.find(former, former=True) is venue


def test_the_order_book_knows_gate_io_by_ccxts_id_and_captures_by_either() -> None:
    assert "gate" in registry.book_exchanges()
    assert "gateio" not in registry.book_exchanges()
    assert registry.venue("gateio") is registry.book_venue("gate") is registry.book_venue("gateio")
    assert registry.ccxt_id("gateio") == "gate"
    assert registry.book_venue("okex") is None  # OKEx v3 books have no dialect


TEMPLATE_MODULES = ("symbols", "wire", "market_data", "book", "credentials", "trading", "replay")
FACTORY_SIGNATURES = {
    "market_data": ("_template.market_data", "create_adapter"),
    "book": ("_template.book", "create_feed"),
    "credentials": ("_template.credentials", "TemplateValidator"),
    "trading": ("_template.trading", "create_adapter"),
}


def _parameters(reference: str) -> list[str]:
    module, _, attribute = reference.partition(":")
    return list(inspect.signature(getattr(importlib.import_module(module), attribute)).parameters)


def test_the_template_has_every_venue_module_each_saying_what_goes_there() -> None:
    for name in TEMPLATE_MODULES:
        module = importlib.import_module(f"eip.exchanges._template.{name}")
        assert module.__doc__ is not None, name
        assert len(module.__doc__) > 300, name
    assert "_template" not in registry.capture_names(former=True)


def test_every_venue_factory_takes_what_the_templates_does() -> None:
    """The registry calls each factory as the template declares it; a venue may take more
    (optional keywords of its own)."""
    for field_name, (module, attribute) in FACTORY_SIGNATURES.items():
        expected = _parameters(f"eip.exchanges.{module}:{attribute}")
        for venue in registry.VENUES:
            reference = getattr(venue, field_name)
            if reference is not None:
                assert _parameters(reference)[: len(expected)] == expected, (venue.id, field_name)


def test_every_venue_validates_keys_at_its_public_api_by_default() -> None:
    """The auth service's endpoint for a venue's keys when its settings name none; a native
    venue's is the host its trading adapter calls (ccxt venues': ``ccxt/``'s tests)."""
    assert set(registry.credential_exchanges()) == set(registry.ROADMAP_EXCHANGES)
    for exchange in registry.credential_exchanges():
        url = registry.key_validator_base_url(exchange)
        assert url.startswith("https://"), exchange
        assert not url.endswith("/"), exchange
        trading = importlib.import_module(f"eip.exchanges.{exchange}.trading")
        assert url == getattr(trading, "REST_BASE", url), exchange
