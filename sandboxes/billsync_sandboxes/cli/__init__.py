"""The commands billsync-sandboxes adds to the `billsync` CLI (`demo`, `sandbox`).

Core finds them through the `billsync.commands` entry points (sandboxes/pyproject.toml) and never imports them.
"""
