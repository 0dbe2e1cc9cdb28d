"""The vendors' sandboxes, one folder per vendor, for the demo, tests and trials.

A sandbox: a local stand-in of a vendor's API, faked from the vendor's documentation; it never
imports the connector that talks to it. Not part of a production install: the `billsync-sandboxes`
distribution (sandboxes/pyproject.toml) registers them under billsync's entry-point groups, and
core finds them there.
Every vendor's folder names the same roles the same way: state, api, admin, auth, factory, seed
(webhooks and errors where the vendor has them).
"""
