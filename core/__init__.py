"""billsync's vendor-free engine, store and runtime."""
