// Findings per task, with their file names; the server renders the markdown and sanitises it.

import { getJSON } from "../api.js";
import { el } from "../ui.js";
import { planUrl, subscribe } from "./state.js";

const panel = document.getElementById("findings");
const rendered = new Map(); // task id (or "" for plan-level notes) -> {key, node}

function fileKey(files) {
  return files.map((file) => `${file.file}:${file.size}:${file.modified}`).join("|");
}

async function taskFindings(taskId, files) {
  const key = fileKey(files);
  const known = rendered.get(taskId);
  if (known?.key === key) return known.node;
  const finding = await getJSON(`${planUrl}/findings/${encodeURIComponent(taskId)}`);
  const node = el("details", { class: "finding", id: `finding-${taskId}` },
    el("summary", {}, el("strong", {}, `Task ${taskId}`), " ",
      el("span", { class: "desc" }, finding.files.map((file) => file.file).join(", "))),
    ...finding.files.map((file) => {
      const body = el("div", { class: "markdown" });
      body.innerHTML = file.html; // sanitised on the server (api/rendering.py)
      return el("section", { class: "finding-file" }, el("h3", {}, el("code", {}, file.file)), body,
        file.truncated ? el("p", { class: "desc" }, "(truncated)") : "");
    }));
  rendered.set(taskId, { key, node });
  return node;
}

let drawing = Promise.resolve();

async function draw() {
  const files = await getJSON(`${planUrl}/findings`);
  const byTask = new Map();
  const notes = [];
  for (const file of files) {
    if (file.task_id === null) notes.push(file);
    else byTask.set(file.task_id, [...(byTask.get(file.task_id) || []), file]);
  }
  const nodes = await Promise.all([...byTask].map(([taskId, list]) => taskFindings(taskId, list)));
  if (notes.length) {
    nodes.push(el("p", { class: "desc" }, "Plan-level notes: ", notes.map((file) => file.file).join(", ")));
  }
  if (!nodes.length) nodes.push(el("p", { class: "empty" }, "No findings yet: each task's agent writes them as it works."));
  panel.replaceChildren(...nodes);
}

subscribe((_state, { reloaded }) => {
  if (!reloaded) return;
  // One draw at a time, in order, so an older listing never replaces a newer one.
  drawing = drawing.then(draw).catch((error) => {
    panel.replaceChildren(el("p", { class: "notice error" }, `Findings could not be read. ${error.message}`));
  });
});
