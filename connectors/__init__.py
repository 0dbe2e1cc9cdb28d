"""One folder per vendor; nothing outside a folder knows that vendor's API."""
