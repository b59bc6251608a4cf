"""Archival triage, rendering and records-system adapters."""
