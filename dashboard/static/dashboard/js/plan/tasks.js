// Phases with their progress and the task table, with Skip and Retry for a controller.

import { sendCommand } from "../answer.js";
import { confirmDialog } from "../dialog.js";
import { renderPhases, TaskTable, tickDurations } from "../tasktable.js";
import { plan, planUrl, refresh, subscribe } from "./state.js";

const table = new TaskTable(document.getElementById("tasks"), { actions: plan.canControl });

subscribe(({ status }, { reloaded }) => {
  if (!reloaded) return;
  renderPhases(document.getElementById("phases"), status.phases, status.current_phase);
  table.render(status.tasks);
});

async function send(label, url, payload) {
  await sendCommand(document.getElementById("answer"), label, url, payload);
  refresh();
}

document.getElementById("tasks").addEventListener("click", async (click) => {
  const button = click.target.closest("button");
  if (!button) return;
  const tasksUrl = `${planUrl}/tasks`;
  if (button.dataset.skip) {
    const taskId = button.dataset.skip;
    const choice = await confirmDialog({
      title: `Skip task ${taskId}?`, text: "The orchestrator will not run it. The reason is recorded in status.json.",
      reason: true,
    });
    if (choice) send(`Skip ${taskId}`, `${tasksUrl}/${encodeURIComponent(taskId)}/skip`, choice.reason ? { reason: choice.reason } : {});
  } else if (button.dataset.retry) {
    send(`Retry ${button.dataset.retry}`, `${tasksUrl}/${encodeURIComponent(button.dataset.retry)}/retry`);
  }
});

setInterval(tickDurations, 1000);
