"""A local stand-in for NetDocuments' REST API v1 and its admin API."""
