// Front page: every orchestrator as a card, then the plans nobody is running.
// REST gives the state; the all-instances stream (/api/events) keeps it moving.

import { getJSON } from "./api.js";
import { EventSocket, showConnection } from "./stream.js";
import { ago, badge, el, percent, progressBar, setProgress } from "./ui.js";
import { progressOf } from "./status.js";

// Heartbeats are written to the registry, not sent as events: re-read the list this often.
const REFRESH_MS = 15000;

const cards = document.getElementById("orchestrators");
const plansBody = document.querySelector("#plans tbody");
const notice = document.getElementById("notice");
const orchestrators = new Map(); // id -> {info, status, card parts}
let refreshing = null;

function showNotice(message) {
  notice.hidden = !message;
  notice.textContent = message || "";
}

function statusUrl(id) {
  return `/api/orchestrators/${encodeURIComponent(id)}/status`;
}

// Loads everything over REST; concurrent calls share one load.
function refresh() {
  refreshing ??= load().finally(() => { refreshing = null; });
  return refreshing;
}

async function load() {
  try {
    const [list, plans] = await Promise.all([getJSON("/api/orchestrators"), getJSON("/api/plans?archived=false")]);
    // Working ones first, then newest first: the registry keeps finished instances until cleaned up.
    const finished = (o) => ["stopped", "crashed"].includes(o.status) || !o.is_alive;
    list.sort((a, b) => finished(a) - finished(b) || String(b.started_at).localeCompare(String(a.started_at)));
    const statuses = await Promise.all(list.map((info) => getJSON(statusUrl(info.id)).catch(() => null)));
    const titles = new Map(plans.map((plan) => [plan.name, plan.title]));
    renderOrchestrators(list, statuses, titles);
    renderPlans(plans, list);
    showNotice("");
  } catch (error) {
    showNotice(error.message);
  } finally {
    cards.removeAttribute("aria-busy");
  }
}

function renderOrchestrators(list, statuses, titles) {
  orchestrators.clear();
  cards.replaceChildren();
  if (!list.length) {
    cards.append(el("p", { class: "empty" }, "No orchestrator is registered in this repository. Start one with ",
      el("code", {}, "python manage.py orchestrate <plan>"), "."));
    return;
  }
  list.forEach((info, index) => {
    const entry = { info, status: statuses[index] };
    entry.parts = buildCard(info, titles.get(info.plan_name));
    orchestrators.set(info.id, entry);
    cards.append(entry.parts.card);
    paint(entry);
  });
}

function buildCard(info, title) {
  const parts = {
    state: el("span"),
    bar: progressBar(0, `Progress of ${info.plan_name}`),
    progress: el("span", { class: "progress-text" }),
    phase: el("span"),
    heartbeat: el("span"),
  };
  parts.card = el("article", { class: "card", dataset: { instanceId: info.id } },
    el("div", { class: "card-head" },
      el("div", {}, el("a", { href: `/orchestrators/${encodeURIComponent(info.id)}/` }, info.plan_name),
        title && el("span", { class: "desc" }, title)),
      parts.state),
    el("div", { class: "progress-line" }, parts.bar, parts.progress),
    el("div", { class: "meta" }, parts.phase),
    el("div", { class: "meta" }, el("code", {}, info.id), parts.heartbeat));
  return parts;
}

function paint({ info, status, parts }) {
  const state = status?.status ?? info.status;
  parts.state.replaceChildren(badge(state), info.is_stale && state === "running" ? badge("stale") : "");
  if (status) {
    setProgress(parts.bar, status.progress_percent);
    parts.progress.textContent =
      `${percent(status.progress_percent)} · ${status.completed_tasks}/${status.total_tasks} done` +
      (status.skipped_tasks ? ` · ${status.skipped_tasks} skipped` : "") +
      (status.failed_tasks ? ` · ${status.failed_tasks} failed` : "");
    parts.phase.textContent = status.current_phase || "No phase started";
  } else {
    parts.progress.textContent = "status unavailable";
  }
  parts.heartbeat.textContent = ["stopped", "crashed"].includes(state)
    ? `last heartbeat ${ago(info.last_heartbeat)}` : `heartbeat ${ago(info.last_heartbeat)}`;
}

function renderPlans(plans, list) {
  // A plan counts as running if any registered instance that is not finished works on it.
  const busy = new Set(list.filter((o) => !["stopped", "crashed"].includes(o.status)).map((o) => o.plan_name));
  const idle = plans.filter((plan) => !busy.has(plan.name));
  plansBody.replaceChildren();
  if (!idle.length) {
    plansBody.append(el("tr", {}, el("td", { colspan: 5, class: "empty" }, "Every active plan has an orchestrator.")));
    return;
  }
  for (const plan of idle) {
    plansBody.append(el("tr", {},
      el("td", { dataset: { label: "Plan" } }, el("div", {}, el("a", { href: `/plans/${encodeURIComponent(plan.name)}/` }, el("strong", {}, plan.name)),
        el("span", { class: "desc" }, plan.title))),
      el("td", { dataset: { label: "Progress" } },
        el("div", { class: "progress-line" }, progressBar(plan.progress_percent, `Progress of ${plan.name}`),
          el("span", { class: "progress-text" }, percent(plan.progress_percent)))),
      el("td", { class: "num", dataset: { label: "Tasks" } },
        `${plan.completed_tasks + plan.skipped_tasks}/${plan.total_tasks}`),
      el("td", { class: "num", dataset: { label: "Failed" } }, String(plan.failed_tasks)),
      el("td", { dataset: { label: "Last update" } }, plan.has_status ? ago(plan.last_updated) : "never run")));
  }
}

// Live events change one card in place; an instance we have not seen means a new orchestrator.
function onEvent(event) {
  const entry = orchestrators.get(event.instance_id);
  if (!entry) {
    refresh();
    return;
  }
  if (event.type === "status_updated" && entry.status) {
    Object.assign(entry.status, progressOf(event.data));
  } else if (event.type === "orchestrator_state") {
    entry.info.status = event.data.state;
    if (entry.status) entry.status.status = event.data.state;
    // Rare, and it may move a plan in or out of the "without an orchestrator" table.
    if (["stopped", "crashed"].includes(event.data.state)) refresh();
  } else if (event.type === "phase_changed" && entry.status) {
    entry.status.current_phase = event.data.new_phase;
  } else {
    return;
  }
  paint(entry);
}

const connection = document.getElementById("connection");
new EventSocket("/api/events", {
  resumable: false,
  onEvent,
  // A reconnect may have missed events of several instances (each has its own sequence,
  // so there is no single `since` to replay from): re-read them all instead.
  onSnapshot: (frame, { reconnected }) => {
    if (reconnected) refresh().then(() => showConnection(connection, "caught-up", { reloaded: true }));
  },
  onStatus: (state, details) => showConnection(connection, state, details),
}).start();

refresh();
setInterval(refresh, REFRESH_MS);
setInterval(() => orchestrators.forEach(paint), 1000);
