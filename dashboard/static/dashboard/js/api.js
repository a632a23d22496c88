// REST calls of the dashboard: the same public API any other client uses, with the session cookie.

function csrfToken() {
  // Django's CsrfViewMiddleware compares X-CSRFToken with this cookie (set by the page view).
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// An API answer that is not 2xx; `message` is already in plain words for the page.
export class ApiError extends Error {
  constructor(status, body) {
    super(explain(status, body));
    this.status = status;
    this.body = body;
  }
}

// The API's own message says what went wrong; the prefix says what the user can do about it.
function explain(status, body) {
  const detail = body?.error?.message || "";
  const plain = {
    0: "The server cannot be reached. Check that it is running, then try again.",
    401: "You are not signed in. Sign in (top right) to do this.",
    403: "Your account is not allowed to do this. Ask an administrator for the 'control orchestrator' permission.",
    404: "Not found: it may have finished and been removed.",
    409: "Not possible right now:",
    412: "The status changed in the meantime; look again and retry.",
    503: "The orchestrator does not answer: it may have stopped or be busy. Try again in a moment.",
  }[status];
  if (status === 409) return `${plain} ${detail || "the current state does not allow it."}`;
  if (plain && detail && status !== 0 && status !== 401) return `${plain} (${detail})`;
  return plain || detail || `The server answered ${status}.`;
}

async function request(url, options = {}) {
  let response;
  try {
    response = await fetch(url, {
      credentials: "same-origin",
      ...options,
      headers: { Accept: "application/json", ...(options.headers || {}) },
    });
  } catch {
    throw new ApiError(0, null);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export function getJSON(url) {
  return request(url);
}

export function postJSON(url, payload = {}) {
  return request(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(payload),
  });
}
