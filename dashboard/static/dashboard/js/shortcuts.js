// Keyboard shortcuts of the orchestrator page: p pause/resume, j/k between tasks, ? help.
// They go through the page's own buttons, so a disabled control (signed out, wrong state) stays so.

function typing(target) {
  return target.closest?.("input, textarea, select, [contenteditable]") !== null;
}

function moveTask(table, step) {
  const rows = [...table.querySelectorAll("tbody tr[data-task-id]")];
  if (!rows.length) return;
  const current = rows.findIndex((row) => row.classList.contains("selected"));
  const next = rows[current < 0 ? (step > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, current + step))];
  for (const row of rows) row.classList.toggle("selected", row === next);
  next.tabIndex = -1;
  next.focus({ preventScroll: true });
  next.scrollIntoView({ block: "nearest" });
}

export function installShortcuts({ table, pause, resume, help }) {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (document.querySelector("dialog[open]") && event.key !== "?") return;
    if (event.key === "?") {
      if (help.open) help.close();
      else help.showModal();
    } else if (event.key === "p") {
      const button = [pause, resume].find((candidate) => !candidate.disabled);
      button?.click();
    } else if (event.key === "j" || event.key === "k") {
      moveTask(table, event.key === "j" ? 1 : -1);
    } else {
      return;
    }
    event.preventDefault();
  });
}
