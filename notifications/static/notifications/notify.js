// Browser notifications for the events a person should hear about, while a dashboard tab is open.
//
// Opt-in per browser: the choice (on/off and which kinds) lives in localStorage, and the
// permission prompt appears only after a click on "Turn on" (browsers ignore or punish
// prompts nobody asked for). Turned on, each tab follows the all-instances stream
// (/api/events); a notification is tagged with its event, so several tabs show it once.
// Clicking one opens that orchestrator's page. The kinds mirror event_kinds() in
// notifications/kinds.py, which the webhooks use.

import { EventSocket } from "../dashboard/js/stream.js";

const STORE = "orchestrator.notifications";
// The engine's own reasons when it stops by itself (orchestrator/engine.py).
const PLAN_COMPLETE = "plan complete";
const OUT_OF_RETRIES = "nothing runnable";

// Most specific first, like the server's.
export function eventKinds(event) {
  const data = event.data || {};
  if (event.type === "task_changed") {
    return data.new_status === "failed" ? ["task_failed", "task_changed"] : ["task_changed"];
  }
  if (event.type !== "orchestrator_state") return [];
  const reason = data.reason || "";
  if (data.state === "crashed") return ["orchestrator_crashed"];
  if (data.state === "paused") return ["orchestrator_paused"];
  if (data.state !== "stopped") return [];
  if (reason === PLAN_COMPLETE) return ["plan_completed", "orchestrator_stopped"];
  if (reason.startsWith(OUT_OF_RETRIES)) return ["retries_exhausted", "orchestrator_stopped"];
  return ["orchestrator_stopped"];
}

function message(event, kind, labels) {
  const data = event.data || {};
  if (event.type === "task_changed") {
    const task = `Task ${data.task_id}${data.description ? ` “${data.description}”` : ""}`;
    return kind === "task_failed" ? `${task} failed.` : `${task}: ${data.old_status || "new"} → ${data.new_status}.`;
  }
  return data.reason ? `${labels[kind]}: ${data.reason}.` : `${labels[kind]}.`;
}

function load(defaults) {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE));
    if (saved && Array.isArray(saved.kinds)) return { on: Boolean(saved.on), kinds: saved.kinds };
  } catch {
    // unreadable: start from the defaults
  }
  return { on: false, kinds: defaults };
}

function save(choice) {
  localStorage.setItem(STORE, JSON.stringify(choice));
}

function setUp() {
  const toggle = document.getElementById("notify-toggle");
  const panel = document.getElementById("notify-panel");
  const state = document.getElementById("notify-state");
  const enable = document.getElementById("notify-enable");
  const disable = document.getElementById("notify-disable");
  const boxes = [...panel.querySelectorAll("input[name=notify-kind]")];
  const labels = Object.fromEntries(boxes.map((box) => [box.value, box.parentElement.textContent.trim()]));
  const choice = load(JSON.parse(document.getElementById("notify-defaults").textContent));
  let socket = null;

  const supported = "Notification" in window;
  const allowed = () => supported && Notification.permission === "granted";

  function show(event) {
    const kind = eventKinds(event).find((one) => choice.kinds.includes(one));
    if (!kind) return;
    const note = new Notification(`${labels[kind]} · ${event.instance_id}`, {
      body: message(event, kind, labels),
      tag: `${event.instance_id}:${event.id}`,
    });
    note.onclick = () => {
      window.focus();
      location.assign(`/orchestrators/${encodeURIComponent(event.instance_id)}/`);
      note.close();
    };
  }

  function render() {
    const live = choice.on && allowed();
    toggle.textContent = `Notifications: ${live ? "on" : "off"}`;
    boxes.forEach((box) => { box.checked = choice.kinds.includes(box.value); });
    enable.hidden = live;
    disable.hidden = !live;
    if (!supported) state.textContent = "This browser cannot show notifications.";
    else if (Notification.permission === "denied") {
      state.textContent = "Notifications are blocked for this site; allow them in the browser's site settings.";
    } else if (live) state.textContent = "On in this browser while a dashboard tab is open.";
    else state.textContent = "Pop up a browser notification while a dashboard tab is open.";
    if (live && !socket) {
      socket = new EventSocket("/api/events", { resumable: false, onEvent: show });
      socket.start();
    } else if (!live && socket) {
      socket.stop();
      socket = null;
    }
  }

  toggle.addEventListener("click", () => {
    panel.hidden = !panel.hidden;
    toggle.setAttribute("aria-expanded", String(!panel.hidden));
  });
  boxes.forEach((box) => box.addEventListener("change", () => {
    choice.kinds = boxes.filter((one) => one.checked).map((one) => one.value);
    save(choice);
  }));
  enable.addEventListener("click", async () => {
    if (!supported) return render();
    // Asked here, on the user's click, and only here.
    if (Notification.permission === "default") await Notification.requestPermission();
    choice.on = Notification.permission === "granted";
    save(choice);
    render();
  });
  disable.addEventListener("click", () => {
    choice.on = false;
    save(choice);
    render();
  });
  // Another tab turned it on or off: follow.
  window.addEventListener("storage", (event) => {
    if (event.key !== STORE) return;
    Object.assign(choice, load(choice.kinds));
    render();
  });
  render();
}

setUp();
