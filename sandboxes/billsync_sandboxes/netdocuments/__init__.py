"""The sandbox of NetDocuments' REST API v1 and its admin API."""
