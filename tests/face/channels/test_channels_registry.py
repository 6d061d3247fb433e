"""Adapters and stores from third-party packages via entry points."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnistock import Inventory, Location
from omnistock.channels import adapter_class, available, create
from omnistock.channels.marketplace import MarketplaceAdapter
from omnistock.channels.pos import PosAdapter
from omnistock.channels.web import WebShopAdapter
from omnistock.errors import InvalidInput

PLUGIN = '''
"""A tiny third-party channel adapter and store."""
import json

from omnistock.channels.base import ChannelAdapter, Command
from omnistock.storage.memory import MemoryStore


class TickerAdapter(ChannelAdapter):
    name = "ticker"

    def parse(self, payload, headers=None):
        doc = json.loads(payload)
        return [Command("receive", {"sku": doc["sku"], "location": doc["at"],
                                    "qty": doc["n"]}, "ticker:" + doc["id"])]

    def publish(self, inv, skus=None):
        return {s: inv.available(s) for s in (inv.skus if skus is None else skus)}


class NotAnAdapter:
    pass


class TickerStore(MemoryStore):
    pass
'''


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[str]:
    """Install a plugin the way pip would leave it: a module and a
    ``.dist-info`` with ``entry_points.txt``, on ``sys.path``."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "ticker_plugin.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "ticker_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ticker-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[omnistock.channels]\nticker = ticker_plugin:TickerAdapter\n"
        "broken = ticker_plugin:NotAnAdapter\n\n"
        "[omnistock.storage]\nticker = ticker_plugin:TickerStore\n"
    )
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    try:
        yield str(site)
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("ticker_plugin", None)
        importlib.invalidate_caches()


def test_builtins() -> None:
    assert adapter_class("web") is WebShopAdapter
    assert adapter_class("pos") is PosAdapter
    assert adapter_class("marketplace") is MarketplaceAdapter
    assert {"web", "pos", "marketplace"} <= set(available())
    assert isinstance(create("marketplace", "amazon"), MarketplaceAdapter)


def test_plugin_adapter_and_store_are_found_and_used(plugin: str) -> None:
    assert available()["ticker"] == "ticker_plugin:TickerAdapter"
    adapter = create("ticker")
    inv = Inventory.open("ticker://")  # the plugin's store, through omnistock.storage
    assert type(inv.store).__name__ == "TickerStore"
    inv.add_location(Location("S"))
    adapter.handle(inv, b'{"id": "1", "sku": "A", "at": "S", "n": 4}')
    adapter.handle(inv, b'{"id": "1", "sku": "A", "at": "S", "n": 4}')  # same key
    assert adapter.publish(inv) == {"A": 4}
    with pytest.raises(InvalidInput, match="not a ChannelAdapter"):
        adapter_class("broken")


def test_plugin_gone_after_cleanup() -> None:
    assert "ticker" not in available()
    with pytest.raises(InvalidInput, match="no channel adapter"):
        adapter_class("ticker")
    with pytest.raises(InvalidInput):
        Inventory.open("ticker://")


def test_unknown_op_refused() -> None:
    from omnistock.channels.base import Command

    with pytest.raises(InvalidInput):
        create("marketplace").execute(Inventory(), Command("close", {}))
