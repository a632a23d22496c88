// The plan page's shared state: the plan's status (REST), the orchestrators registered for it, and a
// live stream saying when either changed. Each panel module subscribes and draws its own part.

import { getJSON } from "../api.js";
import { EventSocket, showConnection } from "../stream.js";

const root = document.getElementById("plan");

export const plan = {
  name: root.dataset.planName,
  archived: root.dataset.archived === "true",
  signedIn: root.dataset.signedIn === "true",
  canControl: root.dataset.canControl === "true",
  canStart: root.dataset.canStart === "true",
};
export const planUrl = `/api/plans/${encodeURIComponent(plan.name)}`;

export const FINISHED = ["stopped", "crashed"];

// Working on the plan now: not marked finished, and its process exists.
export function isLive(instance) {
  return !FINISHED.includes(instance.status) && instance.is_alive;
}

// status: PlanStatus; instances: this plan's registry entries, newest first; live: the one running it.
export const state = { status: null, instances: [], live: null };
const listeners = new Set();

// fn(state, change): change.reloaded after a REST load, change.event for a live event of this plan.
export function subscribe(fn) {
  listeners.add(fn);
}

function publish(change) {
  for (const fn of listeners) fn(state, change);
}

let loading = null;
let pending = false;

// Re-reads everything; a call while a load runs queues exactly one more, so the last state always lands.
export function refresh() {
  if (loading) {
    pending = true;
    return loading;
  }
  loading = load().finally(() => {
    loading = null;
    if (pending) {
      pending = false;
      refresh();
    }
  });
  return loading;
}

const errorListeners = new Set();
export function onLoadError(fn) {
  errorListeners.add(fn);
}

async function load() {
  try {
    const [status, list] = await Promise.all([getJSON(`${planUrl}/status`), getJSON("/api/orchestrators")]);
    state.status = status;
    state.instances = list.filter((o) => o.plan_name === plan.name)
      .sort((a, b) => String(b.started_at).localeCompare(String(a.started_at)));
    state.live = state.instances.find(isLive) || null;
    publish({ reloaded: true });
  } catch (error) {
    for (const fn of errorListeners) fn(error);
  }
}

// Events come in bursts (a task change is several events): one reload after a short quiet spell.
const SETTLE_MS = 150;
let timer = null;
function reloadSoon() {
  clearTimeout(timer);
  timer = setTimeout(refresh, SETTLE_MS);
}

// Heartbeats and liveness are written to the registry, not sent as events: re-read this often.
const POLL_MS = 15000;

export function start() {
  new EventSocket("/api/events", {
    resumable: false,
    onEvent: (event) => {
      const ours = state.instances.some((o) => o.id === event.instance_id);
      // An instance we do not know may be a run of this plan that just started.
      if (ours) publish({ event });
      reloadSoon();
    },
    onSnapshot: (frame, { reconnected }) => {
      if (reconnected) refresh();
    },
    onStatus: (status, details) => showConnection(document.getElementById("connection"), status, details),
  }).start();
  refresh();
  setInterval(refresh, POLL_MS);
}
