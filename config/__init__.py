"""Configuration: the settings model and example files."""
