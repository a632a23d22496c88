// The transcript viewer: what the agent wrote and each tool call (input and result expandable,
// errors marked) of one task attempt, in order, read over REST. While the attempt runs it
// follows: every live event of its task (and a slow poll, in case events are missed) asks for
// the items after `next_after`, replacing by seq those that changed (a tool call that got its result).

import { getJSON } from "../api.js";
import { badge, clockTime, duration, el } from "../ui.js";
import { usageText, usageTitle } from "./figures.js";

const POLL_MS = 3000;
const MAX_PAGES = 20; // per fetch; a follower catches up over several fetches
const SUMMARY_KEYS = ["file_path", "notebook_path", "command", "pattern", "url", "query", "description", "path", "prompt"];

function inputSummary(input) {
  if (typeof input === "string") return input.slice(0, 100);
  if (!input || typeof input !== "object") return "";
  const key = SUMMARY_KEYS.find((k) => typeof input[k] === "string" && input[k].trim());
  return key ? input[key].slice(0, 100) : Object.keys(input).join(", ");
}

function seconds(value) {
  if (typeof value !== "number") return "";
  return value < 1 ? `${Math.round(value * 1000)} ms` : duration(value);
}

function pre(text) {
  return el("pre", {}, text);
}

function toolItem(item) {
  const state = !item.finished ? "running" : item.is_error ? "fail" : "ok";
  const mark = { running: "…", fail: "✗", ok: "✓" }[state];
  const input = typeof item.input === "string" ? item.input : JSON.stringify(item.input, null, 2);
  const result = item.finished ? [
    el("h4", {}, item.is_error ? "Result (error)" : "Result"),
    pre(item.result ?? ""),
    item.result_chars > (item.result || "").length
      ? el("p", { class: "t-note" }, `Shortened: the full result had ${item.result_chars} characters.`) : "",
  ] : el("p", { class: "t-note" }, "Running…");
  return el("li", { class: `t-tool ${state}`, dataset: { seq: item.seq } },
    el("details", {},
      el("summary", {},
        el("span", { class: "mark", title: { running: "running", fail: "failed", ok: "succeeded" }[state] }, mark),
        el("span", { class: "tool" }, item.name || "tool"),
        el("span", { class: "input" }, inputSummary(item.input)),
        el("span", { class: "when" }, item.finished ? seconds(item.duration_s) : "")),
      el("h4", {}, item.input_truncated ? "Input (shortened)" : "Input"), pre(input), result));
}

function itemNode(item) {
  const at = { dataset: { seq: item.seq } };
  switch (item.kind) {
    case "attempt":
      return el("li", { class: "t-meta", ...at },
        el("details", {}, el("summary", {}, `Attempt started ${clockTime(item.at)}`), pre(item.prompt || "")));
    case "init":
      return el("li", { class: "t-meta", ...at },
        `Session ${item.session_id || "?"} · model ${item.model || "?"} · ${item.tools.length} tools`);
    case "text":
      return el("li", { class: "t-text", ...at }, el("p", {}, item.text));
    case "tool_call":
      return toolItem(item);
    case "result":
      return el("li", { class: `t-meta${item.is_error ? " error-text" : ""}`, ...at },
        `Agent result: ${item.outcome || item.subtype}${item.result ? ` — ${item.result}` : ""}`);
    case "truncated":
      return el("li", { class: "t-warn", ...at }, "The transcript reached its size cap: later text and tool calls were not kept.");
    case "end": {
      const usage = item.figures ? {
        cost_usd: item.figures.costUsd, input_tokens: item.figures.inputTokens, output_tokens: item.figures.outputTokens,
        cache_read_input_tokens: item.figures.cacheReadInputTokens,
        cache_creation_input_tokens: item.figures.cacheCreationInputTokens, num_turns: item.figures.numTurns,
        model: item.figures.model,
      } : null;
      return el("li", { class: `t-end ${item.outcome === "completed" ? "ok" : "fail"}`, title: usageTitle(usage), ...at },
        badge(item.outcome), ` after ${duration(item.duration_s)}`, usage ? ` · ${usageText(usage)}` : "",
        item.error ? el("span", { class: "error-text" }, ` · ${item.error}`) : "");
    }
    default:
      return el("li", { class: "t-meta", ...at }, item.kind);
  }
}

export class TranscriptViewer {
  constructor(root, { planName }) {
    this.root = root;
    this.planName = planName;
    this.title = root.querySelector(".t-title");
    this.nav = root.querySelector(".t-attempts");
    this.list = root.querySelector(".transcript");
    this.taskId = null;
    this.attempt = null; // null: the newest
    this.onChange = null; // fn({taskId, attempt}) after a task or attempt is picked
    this.nav.addEventListener("click", (click) => {
      const number = click.target.closest("button")?.dataset.attempt;
      if (number) this.show(this.taskId, Number(number));
    });
    setInterval(() => {
      if (this.running) this.refresh();
    }, POLL_MS);
  }

  get selected() {
    return this.taskId ? { taskId: this.taskId, attempt: this.attempt } : null;
  }

  // Show a task's attempt (null: its newest, followed into retries).
  show(taskId, attempt = null) {
    this.taskId = taskId;
    this.attempt = attempt;
    this.latest = attempt === null;
    this.reset();
    this.refresh();
    this.onChange?.(this.selected);
  }

  reset() {
    this.items = new Map(); // seq -> node
    this.after = 0;
    this.running = false;
    this.shown = null; // the attempt number the items belong to
    this.list.replaceChildren(el("li", { class: "empty" }, "Loading…"));
  }

  // A live event: something happened in `taskId` (a tool call, text, a state change).
  poke(taskId, { newAttempt = false } = {}) {
    if (taskId !== this.taskId) return;
    if (newAttempt && this.latest) {
      this.attempt = null;
      this.reset();
    }
    this.refresh();
  }

  // One fetch at a time; a poke during one queues exactly one more.
  refresh() {
    if (!this.taskId) return Promise.resolve();
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = this.fetch().finally(() => {
      this.loading = null;
      if (this.again) {
        this.again = false;
        this.refresh();
      }
    });
    return this.loading;
  }

  async fetch() {
    const taskId = this.taskId;
    const base = `/api/plans/${encodeURIComponent(this.planName)}/tasks/${encodeURIComponent(taskId)}/transcript`;
    try {
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const params = new URLSearchParams({ after: String(this.after) });
        if (this.shown ?? this.attempt) params.set("attempt", String(this.shown ?? this.attempt));
        const body = await getJSON(`${base}?${params}`);
        if (taskId !== this.taskId) return; // another task was picked meanwhile
        this.draw(body);
        if (!body.has_more) break;
      }
    } catch (error) {
      this.list.replaceChildren(el("li", { class: "error-text" }, error.message));
      this.running = false;
    }
  }

  draw(body) {
    this.shown = body.attempt;
    this.after = body.next_after;
    const current = body.attempts.find((a) => a.attempt === body.attempt);
    this.running = current?.outcome === "running";
    this.title.replaceChildren(`Task ${body.task_id}`,
      current ? ` · attempt ${current.attempt} of ${body.attempts.length} ` : " · not run yet",
      current ? badge(current.outcome) : "",
      current?.usage ? el("span", { class: "desc", title: usageTitle(current.usage) }, ` ${usageText(current.usage)}`) : "");
    this.nav.replaceChildren(...(body.attempts.length > 1 ? body.attempts.map((a) => el("button", {
      type: "button", class: `small${a.attempt === body.attempt ? " primary" : ""}`, dataset: { attempt: a.attempt },
      "aria-pressed": a.attempt === body.attempt ? "true" : "false", title: a.error || a.outcome,
    }, `#${a.attempt} ${a.outcome}`)) : []));
    if (!this.items.size) this.list.replaceChildren();
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    for (const item of body.items) {
      const node = itemNode(item);
      const known = this.items.get(item.seq);
      if (known) {
        // Keep an expanded tool call expanded when its result arrives.
        if (known.querySelector("details")?.open) node.querySelector("details")?.setAttribute("open", "");
        known.replaceWith(node);
      } else {
        this.list.append(node);
      }
      this.items.set(item.seq, node);
    }
    if (!this.items.size) {
      this.list.replaceChildren(el("li", { class: "empty" }, current ? "Nothing recorded yet." : "This task has not run yet."));
    }
    if (this.running && atBottom) this.list.scrollTop = this.list.scrollHeight;
  }
}
