// The run panel on the plan page: the live run if there is one, else the newest recorded run.

import { getJSON } from "../api.js";
import { RunInsight } from "../insight/panel.js";
import { planUrl, state, subscribe } from "./state.js";

const insight = new RunInsight(document.getElementById("insight"));

async function newestRun() {
  try {
    const runs = await getJSON(`${planUrl}/runs`);
    return runs[0]?.run_id ?? null;
  } catch {
    return null; // a plan whose status cannot be read has no runs to show; the page says why elsewhere
  }
}

subscribe(async ({ status, live }, { reloaded, event }) => {
  if (event) insight.onEvent(event);
  if (!reloaded) return;
  insight.setPlanUsage(status.usage);
  insight.setRun(live ? live.id : await newestRun());
  if (!live) insight.reloadSoon(); // a finished run's record only changes by its last writes
});
