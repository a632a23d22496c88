// A `status_updated` event carries the raw status.json (camelCase); the pages draw the REST
// shapes (snake_case, counts computed from the tasks). These functions turn the first into
// the second the way the server does (orchestrator/status.py, api/selectors/plans.py), so
// a live update needs no extra request.

import { sumUsage, usageOf } from "./insight/figures.js";

const STATUSES = ["pending", "in_progress", "completed", "failed", "skipped"];
const UNPHASED = "Unphased";

function counts(tasks) {
  const result = { total_tasks: tasks.length };
  for (const status of STATUSES) result[`${status}_tasks`] = 0;
  for (const task of tasks) {
    // Like the server, an unknown status counts as pending.
    result[`${STATUSES.includes(task.status) ? task.status : "pending"}_tasks`] += 1;
  }
  // status-cli's definition: completed over total; skipped has its own count.
  result.progress_percent = tasks.length ? Math.round((1000 * result.completed_tasks) / tasks.length) / 10 : 0;
  return result;
}

// Overall counts, progress and current phase (the fields the front page's cards use).
export function progressOf(data) {
  return { ...counts(data.tasks || []), current_phase: data.currentPhase || null };
}

// Everything the orchestrator page draws from a status: progress, phases in plan order, tasks.
export function statusOf(data) {
  const raw = data.tasks || [];
  const groups = new Map();
  for (const task of raw) {
    const phase = task.phase || UNPHASED;
    if (!groups.has(phase)) groups.set(phase, []);
    groups.get(phase).push(task);
  }
  const tasks = raw.map((task) => ({
    id: String(task.id ?? ""),
    description: task.description || task.title || "",
    status: STATUSES.includes(task.status) ? task.status : "pending",
    phase: task.phase || UNPHASED,
    retry_count: Number.isInteger(task.retryCount) && task.retryCount > 0 ? task.retryCount : 0,
    last_error: task.lastError || task.error || null,
    skip_reason: task.skipReason || task.reason || null,
    started_at: task.startedAt || null,
    completed_at: task.completedAt || null,
    usage: usageOf(task),
  }));
  return {
    ...progressOf(data),
    phases: [...groups].map(([phase, tasks]) => ({ phase, ...counts(tasks) })),
    tasks,
    usage: sumUsage(tasks.map((task) => task.usage)),
  };
}
