"""A local stand-in for PracticePanther's REST API v2 and its admin API."""
