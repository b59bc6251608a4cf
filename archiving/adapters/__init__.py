"""Records-system adapters, chosen per tenant (Tenant.records_adapter)."""

from __future__ import annotations

from importlib import import_module

from archiving.interfaces import RecordsSystem
from inbox.models import Tenant

ADAPTERS: dict[str, str] = {
    "embedded": "archiving.adapters.embedded:EmbeddedRecords",
    "noark5_rest": "archiving.adapters.noark5_rest:Noark5Rest",
    "fiks_arkiv": "archiving.adapters.fiks_arkiv:FiksArkiv",
}


def records_system_for(tenant: Tenant) -> RecordsSystem:
    path = ADAPTERS.get(tenant.records_adapter)
    if path is None:
        raise LookupError(f"unknown records adapter {tenant.records_adapter!r} for {tenant.slug}")
    module, _, cls = path.partition(":")
    return getattr(import_module(module), cls)(tenant)
