"""Time as the ecosystem writes it: ISO-8601 UTC with a `Z`, millisecond precision."""

from datetime import datetime, timezone
from typing import Callable

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_now(clock: Clock = utc_now) -> str:
    return iso(clock())


def parse_iso(value: str | None) -> datetime | None:
    """Parse the timestamps found in real files; None for anything unparseable."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed
