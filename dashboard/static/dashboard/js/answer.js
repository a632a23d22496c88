// The status line under a page's controls: what a command is doing, then what came of it, in words.

import { postJSON, request } from "./api.js";

export function showAnswer(line, text, isError = false) {
  line.hidden = false;
  line.textContent = text;
  line.classList.toggle("error", isError);
}

// Sends one command and reports on `line`; resolves to the API's answer, or null when it was refused.
export async function sendCommand(line, label, url, payload, { method = "POST" } = {}) {
  showAnswer(line, `${label}…`);
  try {
    const answer = method === "POST" ? await postJSON(url, payload) : await request(url, { method, csrf: true });
    const outcome = answer?.message || (answer?.task ? `task ${answer.task.id} is now ${answer.task.status}.` : "done.");
    showAnswer(line, `${label}: ${outcome}`);
    return answer ?? {};
  } catch (error) {
    showAnswer(line, `${label} failed. ${error.message}`, true);
    return null;
  }
}
