// Cost and token figures: read from status.json's camelCase keys (as the server does,
// orchestrator/figures.py) and written as short text. Costs are the agent client's estimate.

const SUM_KEYS = ["costUsd", "inputTokens", "outputTokens", "cacheReadInputTokens", "cacheCreationInputTokens",
  "numTurns", "agentDurationMs", "apiDurationMs", "attempts"];
const SNAKE = {
  costUsd: "cost_usd", inputTokens: "input_tokens", outputTokens: "output_tokens",
  cacheReadInputTokens: "cache_read_input_tokens", cacheCreationInputTokens: "cache_creation_input_tokens",
  numTurns: "num_turns", agentDurationMs: "agent_duration_ms", apiDurationMs: "api_duration_ms", attempts: "attempts",
};

const isNumber = (value) => typeof value === "number" && Number.isFinite(value);

// A status.json task's figures in the REST shape (`usage`), null before any attempt of ours.
export function usageOf(task) {
  if (!isNumber(task.attempts) || task.attempts < 1) return null;
  const usage = { model: task.model ?? null, session_id: task.sessionId ?? null };
  for (const key of SUM_KEYS) usage[SNAKE[key]] = isNumber(task[key]) ? task[key] : (key === "costUsd" ? null : 0);
  return usage;
}

// The REST `usage` objects of several tasks, summed (cost stays null when none has one).
export function sumUsage(usages) {
  const total = { cost_usd: null };
  for (const key of Object.values(SNAKE)) if (key !== "cost_usd") total[key] = 0;
  for (const usage of usages) {
    if (!usage) continue;
    for (const key of Object.keys(total)) {
      if (isNumber(usage[key])) total[key] = (total[key] || 0) + usage[key];
    }
  }
  return total;
}

export function money(usd) {
  if (!isNumber(usd)) return "—";
  if (usd === 0) return "$0";
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(usd < 10 ? 3 : 2)}`;
}

export function count(n) {
  if (!isNumber(n)) return "—";
  if (n < 1000) return String(n);
  if (n < 1e6) return `${(n / 1000).toFixed(n < 1e4 ? 1 : 0)}k`;
  return `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)}M`;
}

// All tokens a run read or wrote: what "tokens" means in one number.
export function totalTokens(usage) {
  if (!usage) return null;
  return (usage.input_tokens || 0) + (usage.output_tokens || 0) + (usage.cache_read_input_tokens || 0)
    + (usage.cache_creation_input_tokens || 0);
}

// "58.2k tokens · 5 turns"
export function tokensText(usage) {
  const parts = [`${count(totalTokens(usage))} tokens`];
  if (isNumber(usage.num_turns)) parts.push(`${usage.num_turns} turn${usage.num_turns === 1 ? "" : "s"}`);
  return parts.join(" · ");
}

// "$0.041 · 58.2k tokens · 5 turns" for one line; the title attribute has the breakdown.
export function usageText(usage) {
  return usage ? `${money(usage.cost_usd)} · ${tokensText(usage)}` : "";
}

export function usageTitle(usage) {
  if (!usage) return "";
  return [
    `Cost: ${money(usage.cost_usd)} (the agent client's estimate)`,
    `Input tokens: ${count(usage.input_tokens)}`, `Output tokens: ${count(usage.output_tokens)}`,
    `Cache read: ${count(usage.cache_read_input_tokens)}`, `Cache write: ${count(usage.cache_creation_input_tokens)}`,
    isNumber(usage.num_turns) ? `Turns: ${usage.num_turns}` : null,
    isNumber(usage.attempts) ? `Attempts: ${usage.attempts}` : null,
    usage.model ? `Model: ${usage.model}` : null,
  ].filter(Boolean).join("\n");
}
