"""Local fakes of providers we cannot reach here. Each speaks real HTTP with the provider's
documented shapes; clients are pointed at them by base URL, never patched."""
