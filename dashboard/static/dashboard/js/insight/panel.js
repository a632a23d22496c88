// The run panel of the orchestrator and plan pages: totals, a timeline of the run's attempts,
// cost per task and the transcript viewer. The page feeds it its live events and tells it
// which run to show; everything else it reads over REST (runs/{id}, tasks/{id}/transcript).

import { getJSON } from "../api.js";
import { el } from "../ui.js";
import { count, money, usageTitle } from "./figures.js";
import { drawCostChart, drawTimeline } from "./timeline.js";
import { TranscriptViewer } from "./transcript.js";

const SETTLE_MS = 300; // a task change is several events: reload once they have passed
const TICK_MS = 2000; // a running attempt's bar grows without events

function totalsLine(label, usage) {
  if (!usage || !usage.attempts) return el("span", {}, `${label}: no agent run recorded yet.`);
  return el("span", { title: usageTitle(usage) },
    el("strong", {}, `${label}: `), `${money(usage.cost_usd)} `, el("span", { class: "desc" }, "(client's estimate)"),
    ` · ${count(usage.input_tokens)} in / ${count(usage.output_tokens)} out · cache ${count(usage.cache_read_input_tokens)}`
    + ` read, ${count(usage.cache_creation_input_tokens)} written · ${usage.num_turns ?? 0} turns · ${usage.attempts} attempts`);
}

export class RunInsight {
  constructor(root) {
    this.root = root;
    this.planName = root.dataset.planName;
    this.runId = null;
    this.run = null;
    this.planUsage = null;
    this.following = true; // show whichever task runs, until the user picks one
    this.viewer = new TranscriptViewer(root.querySelector(".transcript-viewer"), { planName: this.planName });
    this.viewer.onChange = () => this.drawCharts();
    this.followButton = root.querySelector("[data-follow]");
    this.followButton.addEventListener("click", () => {
      this.following = true;
      this.followRunning();
    });
    // Task tables (ours or the page's) ask for a transcript with data-transcript buttons.
    document.addEventListener("click", (click) => {
      const taskId = click.target.closest("[data-transcript]")?.dataset.transcript;
      if (taskId) this.pick(taskId, null, { scroll: true });
    });
    setInterval(() => {
      if (this.run?.attempts.some((a) => a.outcome === "running")) this.drawCharts();
    }, TICK_MS);
    window.addEventListener("resize", () => this.drawCharts());
  }

  pick(taskId, attempt, { scroll = false } = {}) {
    this.following = false;
    this.followButton.hidden = false;
    this.viewer.show(taskId, attempt);
    if (scroll) this.viewer.root.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  // The run to chart: an orchestrator instance id; null hides the charts (a plan never run).
  setRun(runId) {
    if (runId === this.runId) return;
    this.runId = runId;
    this.run = null;
    this.reload();
  }

  setPlanUsage(usage) {
    this.planUsage = usage;
    this.drawTotals();
  }

  onEvent(event) {
    const { type, data } = event;
    if (data?.task_id && ["tool_started", "tool_completed", "agent_text"].includes(type)) {
      this.viewer.poke(data.task_id);
      if (type === "tool_completed") return;
    }
    if (type === "task_changed") {
      if (data.new_status === "in_progress") {
        if (this.following) this.viewer.show(data.task_id);
        else this.viewer.poke(data.task_id, { newAttempt: true });
      } else {
        this.viewer.poke(data.task_id);
      }
      this.reloadSoon();
    } else if (type === "status_updated" || type === "orchestrator_state") {
      this.reloadSoon();
    }
  }

  reloadSoon() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload(), SETTLE_MS);
  }

  async reload() {
    if (!this.runId) {
      this.drawCharts();
      return;
    }
    const runId = this.runId;
    try {
      const run = await getJSON(`/api/plans/${encodeURIComponent(this.planName)}/runs/${encodeURIComponent(runId)}`);
      if (runId !== this.runId) return;
      this.run = run;
    } catch (error) {
      if (error.status !== 404) this.root.querySelector(".totals").textContent = error.message;
      this.run = null; // a run that has not written its record yet, or was cleared
    }
    if (this.following) this.followRunning();
    this.drawTotals();
    this.drawCharts();
  }

  // Follow mode: the running attempt, else the run's last one.
  followRunning() {
    const attempts = this.run?.attempts || [];
    const target = attempts.find((a) => a.outcome === "running") || attempts[attempts.length - 1];
    this.followButton.hidden = true;
    if (target && (this.viewer.taskId !== target.task_id || this.viewer.attempt !== null)) {
      this.viewer.show(target.task_id);
    }
  }

  drawTotals() {
    const line = this.root.querySelector(".totals");
    line.replaceChildren(totalsLine("This run", this.run?.usage), el("br"), totalsLine("Plan so far", this.planUsage));
  }

  drawCharts() {
    const timeline = this.root.querySelector(".timeline-box");
    const chart = this.root.querySelector(".cost-box");
    if (!this.run) {
      timeline.replaceChildren(el("p", { class: "empty" }, "No run recorded yet."));
      chart.replaceChildren();
      return;
    }
    const select = (taskId, attempt) => this.pick(taskId, attempt);
    drawTimeline(timeline, this.run.attempts, { onSelect: select, selected: this.viewer.selected });
    drawCostChart(chart, this.run.tasks, { onSelect: select });
  }
}
