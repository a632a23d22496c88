// A WebSocket to one of the server's event streams that reconnects by itself.
//
// Protocol (docs/realtime.md): the first frame is a `snapshot`; frames with an `id` are
// events; `ping` wants any frame back; `gap` means events were dropped for this client
// (replay them with ?since=); `reset` means the journal cannot replay that far (refetch
// the state over REST). Close codes 4401/4403/4404 mirror HTTP and are final; any other
// close (network loss, server restart, 4408 stale, 4503 layer down) is retried.

const FINAL_CLOSES = {
  4401: "Sign in to see live updates.",
  4403: "This page's address is not trusted by the server (origin refused).",
  4404: "This orchestrator is no longer registered.",
};
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 30000;

export class EventSocket {
  // path: e.g. "/api/orchestrators/<id>/events"; resumable: replay by id after a reconnect
  // (one instance's stream; the all-instances stream has one sequence per instance).
  constructor(path, { resumable, onEvent, onSnapshot, onReset, onStatus }) {
    this.path = path;
    this.resumable = resumable;
    this.handlers = { onEvent, onSnapshot, onReset, onStatus };
    this.lastId = null;
    this.failures = 0;
    this.connections = 0;
  }

  start() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const since = this.resumable && this.lastId !== null ? `?since=${this.lastId}` : "";
    this.replayed = 0;
    this.replayUpTo = null;
    this.socket = new WebSocket(`${scheme}//${location.host}${this.path}${since}`);
    this.socket.onmessage = (message) => this.receive(JSON.parse(message.data));
    this.socket.onclose = (close) => this.closed(close.code);
  }

  receive(frame) {
    if (frame.type === "ping") {
      this.socket.send(JSON.stringify({ type: "pong" }));
      return;
    }
    if (frame.type === "snapshot") {
      this.failures = 0;
      this.connections += 1;
      const cursor = frame.data?.last_event_id ?? null;
      if (this.resumable && this.lastId === null) {
        // The snapshot is the state as of this event id: a later reconnect resumes after it.
        this.lastId = cursor;
      } else if (this.resumable && cursor !== null && cursor > this.lastId) {
        // Events up to the snapshot's cursor follow as the replay of what we missed while away.
        this.replayUpTo = cursor;
      }
      this.handlers.onSnapshot?.(frame, { reconnected: this.connections > 1 });
      this.report(this.replayUpTo === null ? "live" : "catching-up");
      return;
    }
    if (frame.type === "gap") {
      // We fell behind and the server dropped events: reconnect and replay from where they start.
      this.lastId = frame.data.since;
      this.reconnectNow();
      return;
    }
    if (frame.type === "reset") {
      this.lastId = frame.data.last_id ?? null;
      this.handlers.onReset?.(frame);
      this.report("caught-up", { reset: true });
      return;
    }
    if (typeof frame.id !== "number") return;
    if (this.resumable) {
      if (this.lastId !== null && frame.id <= this.lastId) return; // already seen
      this.lastId = frame.id;
    }
    this.handlers.onEvent?.(frame);
    if (this.replayUpTo !== null) {
      this.replayed += 1;
      if (frame.id >= this.replayUpTo) {
        this.replayUpTo = null;
        this.report("caught-up", { missed: this.replayed });
      }
    }
  }

  // For good: no reconnect follows (a page that no longer wants the stream).
  stop() {
    this.stopped = true;
    this.socket.onclose = null;
    this.socket.close();
  }

  reconnectNow() {
    this.socket.onclose = null;
    this.socket.close();
    this.start();
  }

  closed(code) {
    if (FINAL_CLOSES[code]) {
      this.report("failed", { message: FINAL_CLOSES[code] });
      return;
    }
    // Exponential backoff with jitter, so many pages do not reconnect in lockstep.
    const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.failures);
    const delay = Math.round(ceiling / 2 + Math.random() * ceiling / 2);
    this.failures += 1;
    this.report("retrying", { delay });
    setTimeout(() => { if (!this.stopped) this.start(); }, delay);
  }

  report(state, details = {}) {
    this.handlers.onStatus?.(state, details);
  }
}

// Shows a stream's state in a status line; pages share the wording.
export function showConnection(element, state, details) {
  const words = {
    live: "Live",
    "catching-up": "Reconnected, catching up…",
    retrying: `Connection lost; reconnecting in ${Math.ceil((details.delay || 0) / 1000)} s…`,
    failed: details.message,
  };
  let text = words[state];
  if (state === "caught-up") {
    if (details.reset) text = "Reconnected; too much was missed to replay, so the page reloaded the current state.";
    else if (details.reloaded) text = "Reconnected; reloaded the current state.";
    else text = `Reconnected; caught up on ${details.missed} missed event${details.missed === 1 ? "" : "s"}.`;
  }
  element.textContent = text;
  element.dataset.state = state;
}
