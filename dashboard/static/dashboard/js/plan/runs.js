// The plan's runs as the registry lists them, newest first, with Clear for finished ones.

import { sendCommand } from "../answer.js";
import { badge, clockTime, el } from "../ui.js";
import { FINISHED, isLive, plan, refresh, subscribe } from "./state.js";

const body = document.querySelector("#runs tbody");

function outcome(instance) {
  if (isLive(instance)) return badge(instance.status);
  // A running entry whose process is gone crashed without saying so.
  return badge(FINISHED.includes(instance.status) ? instance.status : "crashed");
}

function row(instance) {
  const finished = !isLive(instance);
  return el("tr", { dataset: { instanceId: instance.id } },
    el("td", { dataset: { label: "Instance" } }, el("a", { href: `/orchestrators/${encodeURIComponent(instance.id)}/` },
      el("code", {}, instance.id))),
    el("td", { class: "num", dataset: { label: "Started" } }, clockTime(instance.started_at)),
    el("td", { class: "num", dataset: { label: "Ended" } }, finished ? clockTime(instance.last_heartbeat) : "running"),
    el("td", { dataset: { label: "Outcome" } }, outcome(instance)),
    el("td", { class: "num", dataset: { label: "Tasks done" } }, "—"),
    el("td", { class: "actions", dataset: { label: "" } }, finished && plan.canControl
      ? el("button", { type: "button", class: "small", dataset: { clear: instance.id } }, "Clear") : ""));
}

subscribe(({ instances }, { reloaded }) => {
  if (!reloaded) return;
  body.replaceChildren(...instances.map(row));
  if (!instances.length) {
    body.append(el("tr", {}, el("td", { colspan: 6, class: "empty" }, "No run of this plan is registered.")));
  }
});

body.addEventListener("click", async (click) => {
  const id = click.target.closest("button")?.dataset.clear;
  if (!id) return;
  await sendCommand(document.getElementById("answer"), `Clear ${id}`, `/api/orchestrators/${encodeURIComponent(id)}`,
    null, { method: "DELETE" });
  refresh();
});
