// Front page: a card per live orchestrator, then every plan (active and archived) with a filter
// and a search box; finished runs are counted in their plan's row instead of keeping a card.
// REST gives the state; the all-instances stream (/api/events) keeps it moving.

import { getJSON, request } from "./api.js";
import { showAnswer } from "./answer.js";
import { confirmDialog } from "./dialog.js";
import { EventSocket, showConnection } from "./stream.js";
import { ago, badge, el, percent, progressBar, setProgress } from "./ui.js";
import { progressOf } from "./status.js";

// Heartbeats are written to the registry, not sent as events: re-read the list this often.
const REFRESH_MS = 15000;

const cards = document.getElementById("orchestrators");
const plansBody = document.querySelector("#plans tbody");
const notice = document.getElementById("notice");
const clearButton = document.getElementById("clear-finished");
const canControl = document.getElementById("front").dataset.canControl === "true";
const orchestrators = new Map(); // id -> {info, status, card parts}, live instances only
let refreshing = null;
let known = { plans: [], list: [] }; // the last REST answers, for the filter and search box
const knownIds = new Set(); // every registered id, finished ones too

const FINISHED = ["stopped", "crashed"];
// Working on its plan now: not marked finished, and its process exists.
const isLive = (o) => !FINISHED.includes(o.status) && o.is_alive;

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
    const [list, plans] = await Promise.all([getJSON("/api/orchestrators"), getJSON("/api/plans")]);
    list.sort((a, b) => String(b.started_at).localeCompare(String(a.started_at)));
    const live = list.filter(isLive);
    const statuses = await Promise.all(live.map((info) => getJSON(statusUrl(info.id)).catch(() => null)));
    const titles = new Map(plans.map((plan) => [plan.name, plan.title]));
    known = { plans, list };
    knownIds.clear();
    list.forEach((o) => knownIds.add(o.id));
    renderOrchestrators(live, statuses, titles);
    renderPlans();
    const finished = list.filter((o) => !isLive(o)).length;
    clearButton.hidden = !(canControl && finished);
    clearButton.textContent = `Clear finished runs (${finished})`;
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
    cards.append(el("p", { class: "empty" }, "No orchestrator is running. Open a plan below to start one (or run ",
      el("code", {}, "python manage.py orchestrate <plan>"), ")."));
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

const filters = {
  all: () => true,
  active: (plan) => !plan.archived,
  archived: (plan) => plan.archived,
  failed: (plan) => plan.failed_tasks > 0,
  running: (plan, live) => Boolean(live),
};

function runsCell(runs) {
  const finished = runs.filter((o) => !isLive(o));
  if (!finished.length) return runs.length ? "" : "none";
  const last = finished[0];
  const outcome = FINISHED.includes(last.status) ? last.status : "crashed";
  return `${finished.length} finished · last ${outcome} ${ago(last.last_heartbeat)}`;
}

function renderPlans() {
  const { plans, list } = known;
  const filter = filters[document.getElementById("plan-filter").value] || filters.all;
  const words = document.getElementById("plan-search").value.trim().toLowerCase();
  plansBody.replaceChildren();
  let shown = 0;
  for (const plan of plans) {
    const runs = list.filter((o) => o.plan_name === plan.name && !plan.archived);
    const live = runs.find(isLive);
    if (!filter(plan, live)) continue;
    if (words && !`${plan.name} ${plan.title}`.toLowerCase().includes(words)) continue;
    shown += 1;
    const href = `/plans/${encodeURIComponent(plan.name)}/`;
    plansBody.append(el("tr", { dataset: { plan: plan.name } },
      el("td", { dataset: { label: "Plan" } }, el("div", {}, el("a", { href }, el("strong", {}, plan.name)),
        el("span", { class: "desc" }, plan.title))),
      el("td", { dataset: { label: "State" } }, el("span", {}, live ? badge("running") : badge(plan.status),
        plan.archived ? [" ", badge("archived")] : "")),
      el("td", { dataset: { label: "Progress" } },
        el("div", { class: "progress-line" }, progressBar(plan.progress_percent, `Progress of ${plan.name}`),
          el("span", { class: "progress-text" }, percent(plan.progress_percent)))),
      el("td", { class: "num", dataset: { label: "Tasks" } },
        `${plan.completed_tasks}/${plan.total_tasks}`),
      el("td", { class: "num", dataset: { label: "Failed" } }, String(plan.failed_tasks)),
      el("td", { dataset: { label: "Runs" } }, runsCell(runs)),
      el("td", { dataset: { label: "Last update" } }, plan.has_status ? ago(plan.last_updated) : "never run")));
  }
  if (!shown) {
    plansBody.append(el("tr", {}, el("td", { colspan: 7, class: "empty" },
      plans.length ? "No plan matches." : "This repository has no plans in docs/plans.")));
  }
}

document.getElementById("plan-filter").addEventListener("change", renderPlans);
document.getElementById("plan-search").addEventListener("input", renderPlans);
document.getElementById("plan-filters").addEventListener("submit", (submit) => submit.preventDefault());

clearButton.addEventListener("click", async () => {
  const finished = known.list.filter((o) => !isLive(o));
  const choice = await confirmDialog({
    title: `Clear ${finished.length} finished run${finished.length === 1 ? "" : "s"}?`,
    text: "Their registry entries go; the plans' status, findings and logs stay.",
  });
  if (!choice) return;
  const line = document.getElementById("answer");
  const refused = [];
  for (const o of finished) {
    try {
      await request(`/api/orchestrators/${encodeURIComponent(o.id)}`, { method: "DELETE", csrf: true });
    } catch (error) {
      refused.push(`${o.id}: ${error.message}`);
    }
  }
  const cleared = finished.length - refused.length;
  showAnswer(line, `Cleared ${cleared} finished run${cleared === 1 ? "" : "s"}.` +
    (refused.length ? ` Not cleared: ${refused.join("; ")}` : ""), refused.length > 0);
  refresh();
});

// Live events change one card in place; an instance we have not seen means a new orchestrator.
function onEvent(event) {
  const entry = orchestrators.get(event.instance_id);
  if (!entry) {
    // A new orchestrator; events of finished ones (a late write) need no reload.
    if (!knownIds.has(event.instance_id)) refresh();
    return;
  }
  if (event.type === "status_updated" && entry.status) {
    Object.assign(entry.status, progressOf(event.data));
    // Its plan's row moves with the card (both are the same status.json).
    const plan = known.plans.find((p) => p.name === entry.info.plan_name && !p.archived);
    if (plan) {
      Object.assign(plan, progressOf(event.data), { has_status: true, last_updated: event.timestamp });
      renderPlans();
    }
  } else if (event.type === "orchestrator_state") {
    entry.info.status = event.data.state;
    if (entry.status) entry.status.status = event.data.state;
    // Rare, and it moves the run from its card into its plan's row.
    if (FINISHED.includes(event.data.state)) refresh();
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
