"""Management commands of the API app."""
