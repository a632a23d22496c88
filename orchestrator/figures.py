"""What an agent run cost and used, read from Claude Code's stream-json, and how it is summed into status.json.

Claude Code reports usage per assistant step and, in its last `result` line, for the whole
session. A turn with parallel tool calls arrives as several `assistant` lines that share one
`message.id` and repeat its usage, so per-step usage is counted once per message id. The
result line wins when there is one; a killed or timed-out agent never prints it, and then
the steps seen so far are the best figure there is. Costs are the client's own estimate
(from its price table), not a bill.

The keys written into status.json are camelCase like the rest of the file; upstream's
writers keep them as unknown keys.
"""

from collections import deque
from dataclasses import asdict, dataclass, fields

# Claude Code's usage keys -> ours (status.json / transcripts, camelCase).
_USAGE_KEYS = {
    "input_tokens": "inputTokens",
    "output_tokens": "outputTokens",
    "cache_read_input_tokens": "cacheReadInputTokens",
    "cache_creation_input_tokens": "cacheCreationInputTokens",
}
# The same four in a result's `modelUsage` entries.
_MODEL_USAGE_KEYS = {
    "inputTokens": "inputTokens",
    "outputTokens": "outputTokens",
    "cacheReadInputTokens": "cacheReadInputTokens",
    "cacheCreationInputTokens": "cacheCreationInputTokens",
}
TOKEN_KEYS = tuple(_USAGE_KEYS.values())
# Summed over a task's attempts and over a run's: what the task or run cost in all.
SUM_KEYS = ("costUsd", *TOKEN_KEYS, "numTurns", "agentDurationMs", "apiDurationMs")
# The lines of one message arrive together (its blocks, one per line); remembering the last few
# ids dedupes them in constant memory however long the session.
RECENT_STEPS = 64


def _count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        return None
    return float(value)


def _tokens(usage, keys: dict) -> dict[str, int]:
    usage = usage if isinstance(usage, dict) else {}
    return {ours: _count(usage.get(theirs)) for theirs, ours in keys.items()}


@dataclass(frozen=True)
class AgentFigures:
    """One agent run. `outcome` is the result's subtype, "error" for a success that says is_error,
    or "no_result" when the agent printed no result line."""

    costUsd: float | None = None
    inputTokens: int = 0
    outputTokens: int = 0
    cacheReadInputTokens: int = 0
    cacheCreationInputTokens: int = 0
    numTurns: int | None = None
    agentDurationMs: int | None = None
    apiDurationMs: int | None = None
    model: str | None = None
    sessionId: str | None = None
    outcome: str = "no_result"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw) -> "AgentFigures | None":
        """Figures as stored in a transcript; None for anything that is not an object."""
        if not isinstance(raw, dict):
            return None
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in raw.items() if key in known})


class FigureTally:
    """Watches every parsed stream-json message of one run; figures() at any point."""

    def __init__(self):
        self._recent: deque[str] = deque(maxlen=RECENT_STEPS)
        self._tokens = dict.fromkeys(TOKEN_KEYS, 0)
        self._turns = 0
        self.model: str | None = None
        self.session_id: str | None = None
        self.result: dict | None = None

    def observe(self, message: dict) -> None:
        kind = message.get("type")
        if isinstance(message.get("session_id"), str):
            self.session_id = message["session_id"]
        if kind == "system" and message.get("subtype") == "init" and isinstance(message.get("model"), str):
            self.model = message["model"]
        elif kind == "assistant" and isinstance(message.get("message"), dict):
            body = message["message"]
            if self.model is None and isinstance(body.get("model"), str):
                self.model = body["model"]
            step_id = body.get("id")
            if isinstance(step_id, str) and step_id:
                if step_id in self._recent:
                    return
                self._recent.append(step_id)
            self._turns += 1  # a step without an id cannot be deduplicated: each counts
            for key, value in _tokens(body.get("usage"), _USAGE_KEYS).items():
                self._tokens[key] += value
        elif kind == "result":
            self.result = message

    def step_tokens(self) -> dict[str, int]:
        return dict(self._tokens)

    def figures(self) -> AgentFigures:
        result = self.result
        if result is None:
            return AgentFigures(**self.step_tokens(), numTurns=self._turns or None, model=self.model,
                                sessionId=self.session_id)
        return AgentFigures(
            costUsd=_result_cost(result),
            **_result_tokens(result, self),
            numTurns=_count(result.get("num_turns")) if "num_turns" in result else self._turns or None,
            agentDurationMs=_int_or_none(result.get("duration_ms")),
            apiDurationMs=_int_or_none(result.get("duration_api_ms")),
            model=self.model or _first_model(result),
            sessionId=self.session_id,
            outcome=result_outcome(result),
        )


def _int_or_none(value) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _result_cost(result: dict) -> float | None:
    """total_cost_usd (older clients: cost_usd), else the sum of modelUsage's costUSD."""
    for key in ("total_cost_usd", "cost_usd"):
        cost = _number(result.get(key))
        if cost is not None:
            return cost
    per_model = [_number(entry.get("costUSD")) for entry in _model_usage(result).values()]
    known = [cost for cost in per_model if cost is not None]
    return sum(known) if known else None


def _model_usage(result: dict) -> dict:
    raw = result.get("modelUsage")
    return {name: entry for name, entry in raw.items() if isinstance(entry, dict)} if isinstance(raw, dict) else {}


def _first_model(result: dict) -> str | None:
    return next(iter(_model_usage(result)), None)


def _result_tokens(result: dict, tally: FigureTally) -> dict[str, int]:
    if isinstance(result.get("usage"), dict):
        return _tokens(result["usage"], _USAGE_KEYS)
    per_model = [_tokens(entry, _MODEL_USAGE_KEYS) for entry in _model_usage(result).values()]
    if per_model:
        return {key: sum(entry[key] for entry in per_model) for key in TOKEN_KEYS}
    return tally.step_tokens()


def result_outcome(result: dict) -> str:
    """A run may end with subtype "success" and is_error true (an API error after the last turn)."""
    subtype = result.get("subtype") if isinstance(result.get("subtype"), str) else "unknown"
    if result.get("is_error") is True and subtype == "success":
        return "error"
    return subtype


def add_figures(target: dict, figures: AgentFigures, *, identity: bool = True) -> None:
    """Sum one agent run's figures into a status.json task or run entry (camelCase keys, kept by upstream).

    `attempts` counts the agent runs summed; with `identity`, model and session id are the latest one's.
    """
    for key in SUM_KEYS:
        value = getattr(figures, key)
        if value is None:
            continue
        before = target.get(key)
        before = before if isinstance(before, (int, float)) and not isinstance(before, bool) else 0
        total = before + value
        target[key] = round(total, 6) if isinstance(total, float) else total
    target["attempts"] = _count(target.get("attempts")) + 1
    if identity and figures.model:
        target["model"] = figures.model
    if identity and figures.sessionId:
        target["sessionId"] = figures.sessionId


def entry_figures(entry: dict) -> dict | None:
    """A status.json task's own figures, None for a task no agent run of ours has recorded."""
    if not _count(entry.get("attempts")):
        return None
    return {key: entry.get(key) for key in (*SUM_KEYS, "attempts", "model", "sessionId")}


def sum_figures(entries) -> dict:
    """The totals of several status.json entries (tasks of a plan, say), with the same keys."""
    totals: dict = {key: 0 for key in (*SUM_KEYS, "attempts")}
    totals["costUsd"] = None
    for entry in entries:
        for key in totals:
            value = entry.get(key) if isinstance(entry, dict) else None
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                totals[key] = (totals[key] or 0) + value
    if isinstance(totals["costUsd"], float):
        totals["costUsd"] = round(totals["costUsd"], 6)
    return totals
