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

// In plain words, what went wrong and what the user can do about it; the API's own message adds the detail.
function explain(status, body) {
  const detail = body?.error?.message || "";
  switch (status) {
    case 0:
      return "The server cannot be reached. Check that it is running, then try again.";
    case 401:
      return "You are not signed in (or your session ended). Sign in, then try again.";
    case 403:
      // DRF refuses a session POST without a valid CSRF token with a 403 too; that one needs a reload.
      if (detail.startsWith("CSRF")) return "This page's security token is missing or expired. Reload the page and try again.";
      // The API names the permission (control or start orchestrator); an administrator grants it.
      return `Your account is not allowed to do this. ${detail || "Ask an administrator for the permission."}`.trim();
    case 404:
      return `Not found. ${detail || "It may have finished and been removed."}`;
    case 409:
      return `Not possible right now. ${detail}`.trim();
    case 412:
      return "The status changed in the meantime. Look again, then retry.";
    case 503:
      return `The orchestrator does not answer: it may have stopped, or be busy. Try again in a moment. ${detail}`.trim();
    default:
      return detail || `The server answered ${status}.`;
  }
}

// `csrf`: a write with the session cookie, which Django wants to carry the CSRF token.
export async function request(url, { csrf = false, ...options } = {}) {
  let response;
  try {
    response = await fetch(url, {
      credentials: "same-origin",
      ...options,
      headers: { Accept: "application/json", ...(csrf && { "X-CSRFToken": csrfToken() }), ...(options.headers || {}) },
    });
  } catch {
    throw new ApiError(0, null);
  }
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export function getJSON(url) {
  return request(url);
}

export function postJSON(url, payload = {}) {
  return request(url, {
    method: "POST",
    csrf: true,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload),
  });
}
