"""Clio Manage connector: PMS, activity source and webhooks."""
