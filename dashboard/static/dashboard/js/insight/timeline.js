// A run's timeline: one row per task, one bar per attempt over wall-clock time, coloured by
// outcome; a retry is a second bar on its task's row. Hover (the bar's <title>) shows figures;
// a click picks the attempt for the transcript viewer.

import { duration } from "../ui.js";
import { money, usageText } from "./figures.js";
import { OUTCOME_COLOURS, svg, widthOf } from "./svg.js";

const ROW = 26;
const BAR = 16;
const LABEL = 56; // task ids on the left
const AXIS = 22;

function timeLabel(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function endOf(attempt, now) {
  const end = Date.parse(attempt.ended_at || attempt.started_at);
  return attempt.outcome === "running" ? Math.max(end, now) : end;
}

function hover(attempt, start, end) {
  return [
    `Task ${attempt.task_id} · attempt ${attempt.attempt} · ${attempt.outcome}`,
    `${timeLabel(start)} – ${timeLabel(end)} (${duration((end - start) / 1000) || "0 s"})`,
    attempt.usage ? `${usageText(attempt.usage)} (cost: the client's estimate)` : null,
    attempt.error ? `Error: ${attempt.error}` : null,
  ].filter(Boolean).join("\n");
}

// attempts: RunDetail.attempts (oldest first). onSelect(taskId, attempt) on a click or Enter.
export function drawTimeline(container, attempts, { onSelect, selected, now = Date.now() } = {}) {
  const timed = attempts.filter((a) => !Number.isNaN(Date.parse(a.started_at)));
  if (!timed.length) {
    container.replaceChildren(Object.assign(document.createElement("p"), {
      className: "empty", textContent: "No attempt of this run has a transcript yet.",
    }));
    return;
  }
  const rows = [...new Set(timed.map((a) => a.task_id))];
  const first = Math.min(...timed.map((a) => Date.parse(a.started_at)));
  const last = Math.max(...timed.map((a) => endOf(a, now)), first + 1000);
  const width = widthOf(container);
  const plot = width - LABEL - 8;
  const x = (ms) => LABEL + ((ms - first) / (last - first)) * plot;
  const height = rows.length * ROW + AXIS;
  const chart = svg("svg", { width, height, role: "img", class: "timeline",
    "aria-label": `Timeline of ${timed.length} attempts over ${duration((last - first) / 1000)}` });
  rows.forEach((taskId, index) => {
    const y = index * ROW;
    if (index % 2) chart.append(svg("rect", { x: 0, y, width, height: ROW, class: "stripe" }));
    chart.append(svg("text", { x: 4, y: y + ROW / 2 + 4, class: "row-label" }, taskId));
  });
  for (const attempt of timed) {
    const start = Date.parse(attempt.started_at);
    const end = endOf(attempt, now);
    const left = x(start);
    const barWidth = Math.max(3, x(end) - left);
    const y = rows.indexOf(attempt.task_id) * ROW + (ROW - BAR) / 2;
    const isSelected = selected && selected.taskId === attempt.task_id && selected.attempt === attempt.attempt;
    const bar = svg("g", { class: `bar-group${isSelected ? " selected" : ""}`, tabindex: 0, role: "button",
      dataset: { taskId: attempt.task_id, attempt: attempt.attempt, outcome: attempt.outcome } },
    svg("title", {}, hover(attempt, start, end)),
    svg("rect", { x: left, y, width: barWidth, height: BAR, rx: 3, fill: OUTCOME_COLOURS[attempt.outcome] || "#66707a" }));
    if (attempt.attempt > 1 && barWidth > 22) {
      bar.append(svg("text", { x: left + 4, y: y + BAR - 4, class: "bar-label" }, `#${attempt.attempt}`));
    }
    chart.append(bar);
  }
  const axisY = rows.length * ROW + 15;
  chart.append(svg("text", { x: LABEL, y: axisY, class: "axis" }, timeLabel(first)),
    svg("text", { x: width - 4, y: axisY, class: "axis", "text-anchor": "end" }, timeLabel(last)));
  if (onSelect) {
    const pick = (event) => {
      const group = event.target.closest?.(".bar-group");
      if (group && (event.type === "click" || event.key === "Enter")) {
        onSelect(group.dataset.taskId, Number(group.dataset.attempt));
      }
    };
    chart.addEventListener("click", pick);
    chart.addEventListener("keydown", pick);
  }
  container.replaceChildren(chart);
}

// tasks: RunDetail.tasks; one bar per task, longest for the dearest. Same click contract.
export function drawCostChart(container, tasks, { onSelect } = {}) {
  const priced = tasks.filter((t) => typeof t.usage?.cost_usd === "number");
  if (!priced.length) {
    container.replaceChildren(Object.assign(document.createElement("p"), {
      className: "empty", textContent: "No cost reported yet.",
    }));
    return;
  }
  const width = widthOf(container);
  const most = Math.max(...priced.map((t) => t.usage.cost_usd), 1e-9);
  const valueWidth = 70;
  const plot = width - LABEL - valueWidth - 8;
  const chart = svg("svg", { width, height: priced.length * ROW + 4, role: "img", class: "cost-chart",
    "aria-label": "Cost per task (the agent client's estimate)" });
  priced.forEach((task, index) => {
    const y = index * ROW;
    const barWidth = Math.max(2, (task.usage.cost_usd / most) * plot);
    chart.append(svg("g", { class: "bar-group", tabindex: 0, role: "button", dataset: { taskId: task.task_id } },
      svg("title", {}, `Task ${task.task_id}: ${usageText(task.usage)} over ${task.attempts} attempt(s)`),
      svg("text", { x: 4, y: y + ROW / 2 + 4, class: "row-label" }, task.task_id),
      svg("rect", { x: LABEL, y: y + (ROW - BAR) / 2, width: barWidth, height: BAR, rx: 3,
        fill: OUTCOME_COLOURS[task.outcome] || "#66707a" }),
      svg("text", { x: LABEL + barWidth + 6, y: y + ROW / 2 + 4, class: "value" }, money(task.usage.cost_usd))));
  });
  if (onSelect) {
    chart.addEventListener("click", (event) => {
      const group = event.target.closest?.(".bar-group");
      if (group) onSelect(group.dataset.taskId, null);
    });
  }
  container.replaceChildren(chart);
}
