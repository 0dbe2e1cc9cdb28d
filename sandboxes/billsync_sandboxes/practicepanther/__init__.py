"""The sandbox of PracticePanther's REST API v2 and its admin API."""
