"""Clio Manage connector: system of record, activity source and webhooks."""
