// The plan's runs, newest first: its history as status.json records it (/api/plans/{name}/runs, kept
// after a run is cleared) joined with the registry's entries (outcome, link, Clear for finished ones).

import { getJSON } from "../api.js";
import { sendCommand } from "../answer.js";
import { badge, clockTime, el } from "../ui.js";
import { FINISHED, isLive, plan, planUrl, refresh, subscribe } from "./state.js";

const body = document.querySelector("#runs tbody");

function outcome(run, instance) {
  if (instance) {
    // A running entry whose process is gone crashed without saying so.
    return badge(isLive(instance) || FINISHED.includes(instance.status) ? instance.status : "crashed");
  }
  // Cleared from the registry: its record says whether it closed the run properly.
  return badge(run.completed_at ? "stopped" : "crashed");
}

function ended(run, instance) {
  if (instance && isLive(instance)) return "running";
  if (run?.completed_at) return clockTime(run.completed_at);
  return instance ? clockTime(instance.last_heartbeat) : "";
}

function row(id, run, instance) {
  const finished = !instance || !isLive(instance);
  const name = el("code", {}, id);
  return el("tr", { dataset: { instanceId: id } },
    el("td", { dataset: { label: "Instance" } },
      instance ? el("a", { href: `/orchestrators/${encodeURIComponent(id)}/` }, name) : name),
    el("td", { class: "num", dataset: { label: "Started" } }, clockTime(run?.started_at ?? instance?.started_at)),
    el("td", { class: "num", dataset: { label: "Ended" } }, ended(run, instance)),
    el("td", { dataset: { label: "Outcome" } }, outcome(run ?? {}, instance)),
    el("td", { class: "num", dataset: { label: "Tasks done" } },
      run?.tasks_completed ?? "—", run?.tasks_failed ? ` (${run.tasks_failed} failed)` : ""),
    el("td", { class: "actions", dataset: { label: "" } }, instance && finished && plan.canControl
      ? el("button", { type: "button", class: "small", dataset: { clear: id } }, "Clear") : ""));
}

async function history() {
  try {
    return await getJSON(`${planUrl}/runs`);
  } catch {
    return []; // an unreadable status file: the registry's entries are still worth showing
  }
}

let drawing = Promise.resolve();

async function draw(instances) {
  const runs = await history();
  const registered = new Map(instances.map((instance) => [instance.id, instance]));
  const recorded = new Map(runs.map((run) => [run.run_id, run]));
  const ids = [...new Set([...registered.keys(), ...recorded.keys()])];
  const started = (id) => String(recorded.get(id)?.started_at ?? registered.get(id)?.started_at ?? "");
  ids.sort((a, b) => started(b).localeCompare(started(a)));
  body.replaceChildren(...ids.map((id) => row(id, recorded.get(id), registered.get(id))));
  if (!ids.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "empty" }, "This plan has not run yet.")));
}

subscribe(({ instances }, { reloaded }) => {
  if (!reloaded) return;
  drawing = drawing.then(() => draw(instances));
});

body.addEventListener("click", async (click) => {
  const id = click.target.closest("button")?.dataset.clear;
  if (!id) return;
  await sendCommand(document.getElementById("answer"), `Clear ${id}`, `/api/orchestrators/${encodeURIComponent(id)}`,
    null, { method: "DELETE" });
  refresh();
});
