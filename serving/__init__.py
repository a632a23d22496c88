"""The top of the house: the process commands (orchestrate, serve, runserver, bridge_events) and how HTTP reaches Django."""
