"""Real-time layer: Channels consumers, SSE and the bridge from orchestrators to the channel layer."""
