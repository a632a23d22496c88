// The confirmation dialog (templates/dashboard/partials/confirm.html) the pages ask before a command.

const $ = (id) => document.getElementById(id);

// Opens the confirmation dialog; resolves to {reason, force} or null when cancelled.
export function confirmDialog({ title, text, reason = false, force = false }) {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-reason-label").hidden = !reason;
  $("confirm-reason").value = "";
  $("confirm-force-label").hidden = !force;
  $("confirm-force").checked = false;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok"
        ? { reason: $("confirm-reason").value.trim(), force: $("confirm-force").checked } : null);
    }, { once: true });
  });
}
