"""Where daphne listens: the endpoint every serving command gives it, with a listen backlog sized for bursts."""

from daphne.endpoints import build_endpoint_description_strings

# Twisted listens with a backlog of 50: 600 clients connecting at once overflowed it while the
# reactor was busy, and the kernel dropped connections the clients already took for open (read
# errors, commands never received, so never audited). The kernel caps it at net.core.somaxconn.
LISTEN_BACKLOG = 1024


def listen_endpoint(host: str, port: int) -> str:
    """Twisted endpoint description for `daphne -e`, e.g. tcp:port=8000:interface=127.0.0.1:backlog=1024."""
    [description] = build_endpoint_description_strings(host=host, port=port)
    return f"{description}:backlog={LISTEN_BACKLOG}"
