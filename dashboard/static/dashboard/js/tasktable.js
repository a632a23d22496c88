// The phases list and the task table, drawn the same way on the orchestrator page and the plan page.

import { money, tokensText, usageTitle } from "./insight/figures.js";
import { badge, clockTime, duration, el, inlineMarkdown, progressBar, secondsSince } from "./ui.js";

const COLUMNS = 8;

export function renderPhases(list, phases, currentPhase) {
  list.replaceChildren(...phases.map((phase) => el("li", { class: phase.phase === currentPhase ? "current" : "" },
    el("span", {}, phase.phase),
    progressBar(phase.progress_percent, `Progress of ${phase.phase}`),
    el("span", { class: "progress-text" }, `${phase.completed_tasks}/${phase.total_tasks}`))));
  if (!phases.length) list.append(el("li", { class: "empty" }, "This plan has no phases."));
}

function durationCell(task) {
  const cell = el("td", { class: "num", dataset: { label: "Duration" } });
  if (task.status === "in_progress" && task.started_at) {
    cell.dataset.runningSince = task.started_at; // ticked every second by tickDurations()
    cell.textContent = `${duration(secondsSince(task.started_at))} so far`;
  } else if (task.started_at && task.completed_at) {
    cell.textContent = duration((Date.parse(task.completed_at) - Date.parse(task.started_at)) / 1000);
  }
  return cell;
}

function usageCell(usage) {
  return el("td", { class: "num usage", dataset: { label: "Cost · tokens" }, title: usageTitle(usage) },
    usage ? [money(usage.cost_usd), el("span", { class: "desc" }, tokensText(usage))] : "");
}

function taskActions(task, commands) {
  const buttons = [];
  if (task.usage || task.status === "in_progress") {
    buttons.push(el("button", { type: "button", class: "small", dataset: { transcript: task.id } }, "Transcript"));
  }
  if (!commands) return buttons;
  if (task.status === "pending" || task.status === "failed") {
    buttons.push(el("button", { type: "button", class: "small", dataset: { skip: task.id } }, "Skip"));
  }
  if (task.status === "failed" || task.status === "skipped") {
    buttons.push(el("button", { type: "button", class: "small", dataset: { retry: task.id } }, "Retry"));
  }
  return buttons;
}

// Rows are rebuilt only for tasks that changed, so a button under the pointer survives updates.
export class TaskTable {
  constructor(table, { actions = true } = {}) {
    this.body = table.tBodies[0];
    this.actions = actions;
    this.rows = new Map(); // task id -> {key, row}
    this.phaseRows = new Map(); // phase heading -> its header row
  }

  row(task) {
    const key = JSON.stringify(task);
    const known = this.rows.get(task.id);
    if (known?.key === key) return known.row;
    const note = task.last_error
      ? el("span", { class: "error-text" }, task.last_error)
      : task.skip_reason ? `Skipped: ${task.skip_reason}` : "";
    const row = el("tr", { dataset: { taskId: task.id } },
      el("td", { dataset: { label: "Task" } }, el("div", {}, el("strong", {}, task.id), el("span", { class: "desc" }, inlineMarkdown(task.description)))),
      el("td", { dataset: { label: "Status" } }, badge(task.status)),
      el("td", { class: "num", dataset: { label: "Started" } }, clockTime(task.started_at)),
      durationCell(task),
      usageCell(task.usage),
      el("td", { class: "num", dataset: { label: "Retries" } }, String(task.retry_count)),
      el("td", { dataset: { label: "Error / note" } }, note),
      el("td", { class: "actions", dataset: { label: "" } }, taskActions(task, this.actions)));
    this.rows.set(task.id, { key, row });
    return row;
  }

  render(tasks) {
    const rows = [];
    let phase = null;
    for (const task of tasks) {
      if (task.phase !== phase) {
        phase = task.phase;
        if (!this.phaseRows.has(phase)) {
          this.phaseRows.set(phase, el("tr", { class: "phase-row" }, el("td", { colspan: COLUMNS, dataset: { label: "" } }, phase)));
        }
        rows.push(this.phaseRows.get(phase));
      }
      rows.push(this.row(task));
    }
    if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: COLUMNS, class: "empty" }, "This plan has no tasks.")));
    const current = [...this.body.children];
    if (rows.length === current.length && rows.every((row, index) => row === current[index])) return;
    this.body.replaceChildren(...rows);
  }
}

// Running durations tick without any event (only their text: a redraw would eat clicks).
export function tickDurations() {
  for (const cell of document.querySelectorAll("[data-running-since]")) {
    cell.textContent = `${duration(secondsSince(cell.dataset.runningSince))} so far`;
  }
}
