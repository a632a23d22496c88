// Start (POST /api/orchestrators with the form's options) and Stop (shutdown of the live run).

import { sendCommand } from "../answer.js";
import { confirmDialog } from "../dialog.js";
import { plan, refresh, subscribe } from "./state.js";

const form = document.getElementById("start-form");
const stopButton = document.getElementById("stop");
let live = null;

subscribe((state, { reloaded }) => {
  if (!reloaded) return;
  live = state.live;
  // Start stays enabled while a run is live: the API refuses a second one with a 409, said in words.
  stopButton.disabled = !(plan.canControl && live && live.status === "running");
  stopButton.textContent = live ? `Stop ${live.id}…` : "Stop…";
});

function options() {
  const data = new FormData(form);
  const payload = { plan: plan.name };
  for (const name of ["max_iterations", "timeout", "max_retries"]) {
    const value = data.get(name);
    if (value !== null && value !== "") payload[name] = Number(value);
  }
  if (data.get("dry_run")) payload.dry_run = true;
  return payload;
}

form.addEventListener("submit", async (submit) => {
  submit.preventDefault();
  const answer = await sendCommand(document.getElementById("answer"), "Start", "/api/orchestrators", options());
  if (answer?.id) {
    document.getElementById("answer").textContent = `Started ${answer.id} (pid ${answer.pid}).`;
  }
  refresh();
});

stopButton.addEventListener("click", async () => {
  if (!live) return;
  const choice = await confirmDialog({
    title: `Stop ${live.id}?`,
    text: "It stops after the current task; start the plan again later to continue where it left off.",
    force: true,
  });
  if (!choice) return;
  await sendCommand(document.getElementById("answer"), choice.force ? "Forced stop" : "Stop",
    `/api/orchestrators/${encodeURIComponent(live.id)}/shutdown`, { force: choice.force });
  refresh();
});
