// One orchestrator: progress by phase, the task table, a live feed of tool calls and the
// control buttons. State comes from REST and the stream's snapshot; events keep it current.

import { getJSON } from "./api.js";
import { sendCommand, showAnswer } from "./answer.js";
import { confirmDialog } from "./dialog.js";
import { RunInsight } from "./insight/panel.js";
import { installShortcuts } from "./shortcuts.js";
import { EventSocket, showConnection } from "./stream.js";
import { statusOf } from "./status.js";
import { renderPhases as drawPhases, TaskTable, tickDurations } from "./tasktable.js";
import { ago, badge, clockTime, duration, el, inlineMarkdown, percent, setProgress } from "./ui.js";

const FEED_LIMIT = 200; // older tool calls drop off the bottom
// The heartbeat (written to the registry) and the iteration count (asked over IPC) come with no
// event: re-read them over REST this often.
const POLL_MS = 15000;

const root = document.getElementById("orchestrator");
const instanceId = root.dataset.instanceId;
const canControl = root.dataset.canControl === "true"; // else the buttons stay disabled, with a hint why
const base = `/api/orchestrators/${encodeURIComponent(instanceId)}`;
const $ = (id) => document.getElementById(id);

let view = null; // the REST status shape (OrchestratorStatusSerializer)
let updates = 0; // bumped by every stream update, so a slower REST answer cannot overwrite a newer state
const tools = new Map(); // tool_id -> feed row of a call still running
const taskTable = new TaskTable($("tasks"), { actions: canControl });
const insight = new RunInsight($("insight"));
insight.setRun(instanceId); // a run is recorded under its orchestrator's id

// ---- drawing -------------------------------------------------------------------------

function render() {
  if (!view) return;
  $("plan-name").textContent = view.plan_name;
  document.title = `${view.plan_name} · Plan Orchestrator`;
  renderState();
  $("current-phase").textContent = view.current_phase || "not started";
  $("iteration").textContent = view.iteration === null || view.iteration === undefined
    ? "—" : `${view.iteration} of ${view.max_iterations ?? "?"}`;
  setProgress($("progress"), view.progress_percent);
  $("progress-text").textContent = `${percent(view.progress_percent)} · ${view.completed_tasks} done, ` +
    `${view.skipped_tasks} skipped, ${view.failed_tasks} failed, ${view.total_tasks} in all`;
  renderPhases();
  renderTasks();
  insight.setPlanUsage(view.usage);
}

function renderState() {
  const state = view.status;
  $("state").replaceWith(Object.assign(badge(state), { id: "state" }));
  // Buttons follow the known state; a race the page cannot see still gets the API's 409, shown in words.
  document.querySelector('[data-command="pause"]').disabled = !canControl || state !== "running";
  document.querySelector('[data-command="resume"]').disabled = !canControl || state !== "paused";
  document.querySelector('[data-command="shutdown"]').disabled = !canControl ||
    ["stopping", "stopped", "crashed"].includes(state);
  if (stopAnnounced && ["stopped", "crashed"].includes(state)) {
    stopAnnounced = false;
    showAnswer($("answer"), `The orchestrator has ${state}. To run the plan again, use Start on its plan page.`);
  }
  renderHeartbeat();
}

function renderHeartbeat() {
  if (!view) return;
  const stale = view.is_stale && !["stopped", "crashed"].includes(view.status);
  $("heartbeat").textContent = ago(view.last_heartbeat) + (stale ? " (stale: no heartbeat for over a minute)" : "");
}

function renderPhases() {
  drawPhases($("phases"), view.phases, view.current_phase);
}

function renderTasks() {
  taskTable.render(view.tasks);
}

// ---- activity feed ---------------------------------------------------------------------

// Rows are newest first: live ones go on top, history (older) at the bottom.
function addRow(row, { older = false } = {}) {
  const feed = $("feed");
  feed.querySelector(".empty")?.remove();
  if (older) {
    if (feed.children.length < FEED_LIMIT) feed.append(row);
    return row;
  }
  feed.prepend(row);
  while (feed.children.length > FEED_LIMIT) feed.lastElementChild.remove();
  return row;
}

function feedRow(kind, ...cells) {
  return addRow(el("li", { class: kind }, ...cells));
}

function toolRow({ tool_id: toolId, tool_name: name, input_summary: input, task_id: taskId }, at) {
  return el("li", { class: "running", dataset: { toolId }, title: taskId ? `Task ${taskId}` : null },
    el("span", { class: "mark", title: "running" }, "…"),
    el("span", { class: "tool" }, name),
    el("span", { class: "when" }, clockTime(at)),
    input ? el("span", { class: "input" }, input) : "");
}

function finishRow(row, { duration: seconds, success }, at) {
  row.className = success ? "ok" : "fail";
  const mark = row.querySelector(".mark");
  mark.textContent = success ? "✓" : "✗";
  mark.title = success ? "succeeded" : "failed";
  row.querySelector(".when").textContent = `${clockTime(at)} · ${seconds < 1 ? `${Math.round(seconds * 1000)} ms` : duration(seconds)}`;
}

// The row of a call already shown (live, or from history): a replay must not show it twice.
function shownRow(toolId) {
  return tools.get(toolId) || $("feed").querySelector(`[data-tool-id="${CSS.escape(toolId)}"]`);
}

function toolStarted(event) {
  if (shownRow(event.data.tool_id)) return;
  tools.set(event.data.tool_id, addRow(toolRow(event.data, event.timestamp)));
}

function toolCompleted(event) {
  // A completion without its start (it happened before this page opened) still gets a row.
  const row = shownRow(event.data.tool_id) || addRow(toolRow(event.data, null));
  tools.delete(event.data.tool_id);
  finishRow(row, event.data, event.timestamp);
}

// The tool calls made before the page opened (GET tool-calls), under any that arrived live meanwhile.
async function loadToolHistory() {
  let calls;
  try {
    calls = await getJSON(`${base}/tool-calls?limit=${FEED_LIMIT}`);
  } catch {
    return; // the live feed still works; an empty history is not worth a message
  }
  const shown = new Set([...$("feed").querySelectorAll("[data-tool-id]")].map((row) => row.dataset.toolId));
  for (const call of calls.reverse()) {
    if (shown.has(call.tool_id)) continue;
    const row = addRow(toolRow(call, call.started_at), { older: true });
    if (call.completed_at) finishRow(row, call, call.completed_at);
    else tools.set(call.tool_id, row);
  }
}

function feedNote(...parts) {
  feedRow("note-row", ...parts);
}

// ---- events ----------------------------------------------------------------------------

function onEvent(event) {
  const { type, data } = event;
  insight.onEvent(event);
  if (type === "tool_started") toolStarted(event);
  else if (type === "tool_completed") toolCompleted(event);
  else if (type === "status_updated" && view) {
    updates += 1;
    Object.assign(view, statusOf(data));
    render();
  } else if (type === "task_changed" && data.new_status === "in_progress") {
    feedNote(`Task ${data.task_id} started: `, ...inlineMarkdown(data.description));
    // The engine counts one iteration per task it starts; REST re-reads the exact figure later.
    if (Number.isInteger(view?.iteration)) {
      view.iteration += 1;
      render();
    }
  } else if (type === "orchestrator_state" && view) {
    updates += 1;
    view.status = data.state;
    renderState();
    feedNote(`Orchestrator ${data.state}${data.reason ? `: ${data.reason}` : ""}`);
  }
}

async function reload() {
  const before = updates;
  try {
    const status = await getJSON(`${base}/status`);
    if (updates !== before && view) return; // the stream was faster and is newer
    view = status;
    render();
  } catch (error) {
    showError(error.message);
  }
}

// Only the fields no event carries; the rest of a REST answer may be older than the stream's state.
async function refreshUnstreamed() {
  try {
    const status = await getJSON(`${base}/status`);
    if (!view) return;
    const { last_heartbeat, is_stale, iteration, max_iterations } = status;
    Object.assign(view, { last_heartbeat, is_stale, iteration, max_iterations });
    render();
  } catch {
    // The status line and the next command will say what is wrong; a heartbeat is not worth a message.
  }
}

// ---- commands ---------------------------------------------------------------------------

function showError(text) {
  showAnswer($("answer"), text, true);
}

// "Shutdown: stopping after task 2.2" is true until the run stops; then renderState says so instead.
let stopAnnounced = false;

async function send(label, url, payload) {
  const answer = await sendCommand($("answer"), label, url, payload);
  if (answer && url.endsWith("/shutdown")) stopAnnounced = true;
  if (answer?.state && view) {
    view.status = answer.state;
    renderState();
  }
}

document.querySelector(".controls").addEventListener("click", async (click) => {
  const command = click.target.closest("button")?.dataset.command;
  if (command === "pause") send("Pause", `${base}/pause`);
  if (command === "resume") send("Resume", `${base}/resume`);
  if (command === "shutdown") {
    const choice = await confirmDialog({
      title: "Shut down this orchestrator?",
      text: "It stops after the current task. To run the plan again later, use Start on its plan page.",
      force: true,
    });
    if (choice) send(choice.force ? "Forced shutdown" : "Shutdown", `${base}/shutdown`, { force: choice.force });
  }
});

$("tasks").addEventListener("click", async (click) => {
  const button = click.target.closest("button");
  if (!button) return;
  if (button.dataset.skip) {
    const taskId = button.dataset.skip;
    const choice = await confirmDialog({
      title: `Skip task ${taskId}?`, text: "The orchestrator will not run it. The reason is recorded in status.json.",
      reason: true,
    });
    if (choice) send(`Skip ${taskId}`, `${base}/skip-task`, { task_id: taskId, ...(choice.reason && { reason: choice.reason }) });
  } else if (button.dataset.retry) {
    send(`Retry ${button.dataset.retry}`, `${base}/retry-task`, { task_id: button.dataset.retry });
  }
});

// ---- start -----------------------------------------------------------------------------

const connection = $("connection");
new EventSocket(`${base}/events`, {
  resumable: true,
  onEvent,
  onSnapshot: (frame) => {
    // The snapshot is the REST status as of the stream's cursor; replayed events follow it.
    if (frame.data?.status) {
      updates += 1;
      view = frame.data.status;
      render();
    }
  },
  onReset: () => {
    feedNote("Reconnected after missing more than the server could replay; some tool calls are not shown.");
    reload();
  },
  onStatus: (state, details) => showConnection(connection, state, details),
}).start();

installShortcuts({
  table: $("tasks"),
  pause: document.querySelector('[data-command="pause"]'),
  resume: document.querySelector('[data-command="resume"]'),
  help: $("shortcuts"),
});

reload();
loadToolHistory();
setInterval(refreshUnstreamed, POLL_MS);
// Ages and running durations tick without any event (only their text: a redraw would eat clicks).
setInterval(() => {
  renderHeartbeat();
  tickDurations();
}, 1000);
