"""The stream wing: one client's connection, WebSocket or SSE, from the channel layer to its socket.

Who may connect (auth, access, origin), what it is sent first (snapshots), replay and hole
filling (eventstream), the bounded outbox, flow control, and the one driver both transports use.
"""
