"""Local stand-ins of the vendors' APIs, one folder per vendor, for the demo, tests and trials.

Not part of a production install: the `billsync-sandboxes` distribution (sandboxes/pyproject.toml)
registers them under billsync's entry-point groups, and core finds them there. A stand-in fakes
its vendor from the vendor's documentation; it never imports the connector that talks to it.
Every vendor's folder names the same roles the same way: state, api, admin, auth, factory, seed
(webhooks and errors where the vendor has them).
"""
