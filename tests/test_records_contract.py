"""Every records-system adapter in the registry satisfies the RecordsSystem contract."""

from __future__ import annotations

import inspect
from importlib import import_module

import pytest

from archiving.adapters import ADAPTERS, records_system_for
from archiving.interfaces import RecordsSystem


@pytest.mark.parametrize("key", sorted(ADAPTERS))
def test_adapter_satisfies_the_interface(key):
    module, _, name = ADAPTERS[key].partition(":")
    cls = getattr(import_module(module), name)
    assert cls.name == key
    for method in ("find_entry", "journal"):
        expected = inspect.signature(getattr(RecordsSystem, method))
        actual = inspect.signature(getattr(cls, method))
        assert list(actual.parameters) == list(expected.parameters), (key, method)


def test_unknown_adapter_is_named_in_the_error(app, factory):
    tenant = factory.tenant(records_adapter="papir")
    with pytest.raises(LookupError, match="papir"):
        records_system_for(tenant)


def test_unknown_adapter_fails_the_item_with_a_message(app, factory, tasks):
    from archiving.models import ArchiveItem, ArchiveState
    from inbox.extensions import db
    from tests.records_helpers import approved_item

    item = approved_item(factory, adapter="papir", answer=False)
    assert tasks.run_all() == ["failed"]
    db.session.expire_all()
    item = db.session.get(ArchiveItem, item.id)
    assert item.state is ArchiveState.FAILED and "unknown records adapter" in item.last_error
