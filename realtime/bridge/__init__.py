"""The bridge wing: orchestrators' events from disk (and from their buses) into the channel layer.

The bridge follows the registry (states), tails journals or adopts another tool's status.json
(adoption, status_watch), runs in the server process for the in-memory layer (autostart),
and sends what it reads (publish); orphans streams a command's change to a stopped run.
"""
