"""The sandbox of Clio Manage's API v4 (OAuth, /api/v4, webhooks) and its admin API."""
