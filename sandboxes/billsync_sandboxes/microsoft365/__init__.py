"""The sandbox of Microsoft Graph v1.0 and Entra's token endpoint, and its admin API."""
