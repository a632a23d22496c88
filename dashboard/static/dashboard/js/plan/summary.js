// The summary panel: plan status, the orchestrator running it (a link to its page), progress.

import { ago, badge, el, percent, setProgress } from "../ui.js";
import { subscribe } from "./state.js";

const $ = (id) => document.getElementById(id);

subscribe(({ status, live }, { reloaded }) => {
  if (!reloaded) return;
  $("plan-title").textContent = status.title || status.name;
  document.title = `${status.title || status.name} · Plan Orchestrator`;
  $("plan-status").replaceWith(Object.assign(badge(status.status), { id: "plan-status" }));
  $("live-instance").replaceChildren(live
    ? el("span", {}, el("a", { href: `/orchestrators/${encodeURIComponent(live.id)}/` }, live.id), " ", badge(live.status))
    : "none running");
  $("current-phase").textContent = status.current_phase || "not started";
  $("last-updated").textContent = status.has_status ? ago(status.last_updated) : "never run";
  setProgress($("progress"), status.progress_percent);
  $("progress-text").textContent = `${percent(status.progress_percent)} · ${status.completed_tasks} done, ` +
    `${status.skipped_tasks} skipped, ${status.failed_tasks} failed, ${status.total_tasks} in all`;
});
