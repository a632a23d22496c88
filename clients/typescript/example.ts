/**
 * A tiny tour of the typed client: list plans, read one plan's status, follow an orchestrator's
 * events. Compiled (not run) by tests/api/test_api_types.py, so it breaks when the API changes.
 */
import { ApiError, createClient } from "./client";
import { eventSocketProtocols, isEventOf, parseFrame, type StreamFrame } from "./events";

const baseUrl = "http://127.0.0.1:8000";
const token = "<token printed by `python manage.py create_local_user`>";

export async function showPlans(): Promise<void> {
  const api = createClient({ baseUrl, token });

  const plans = await api.get("/api/plans", { query: { archived: false } });
  for (const plan of plans) {
    console.log(`${plan.name}: ${plan.progress_percent}% (${plan.completed_tasks}/${plan.total_tasks})`);
  }

  try {
    const status = await api.get("/api/plans/{name}/status", { params: { name: "my-plan" } });
    const failed = status.tasks.filter((task) => task.status === "failed");
    console.log(`${status.title}: ${failed.length} failed`, failed.map((task) => task.last_error));
  } catch (error) {
    if (error instanceof ApiError && error.code === "plan_not_found") console.log("no such plan");
    else throw error;
  }
}

/** Retry every failed task of a plan; If-Match makes each write refuse (412) if someone changed the file meanwhile. */
export async function retryFailed(plan: string): Promise<void> {
  const api = createClient({ baseUrl, token });
  const status = await api.get("/api/plans/{name}/status", { params: { name: plan } });
  let etag = status.status_etag ?? "*";
  for (const task of status.tasks.filter((t) => t.status === "failed")) {
    const change = await api.post("/api/plans/{name}/tasks/{task_id}/retry", {
      params: { name: plan, task_id: task.id },
      headers: { "If-Match": etag, "Idempotency-Key": crypto.randomUUID() },
    });
    etag = change.status_etag;
  }
}

/** Pause an orchestrator; an instance that does not answer is a 503 with code orchestrator_unavailable. */
export async function pause(instanceId: string): Promise<string> {
  const api = createClient({ baseUrl, token });
  try {
    const ack = await api.post("/api/orchestrators/{id}/pause", { params: { id: instanceId } });
    return ack.message;
  } catch (error) {
    if (error instanceof ApiError && error.status === 503) return `unreachable: ${error.message}`;
    throw error;
  }
}

/** Follow one instance over WebSocket, resuming after the last event id seen. */
export function followEvents(instanceId: string, onFrame: (frame: StreamFrame) => void, since?: number): WebSocket {
  const url = `${baseUrl.replace(/^http/, "ws")}/api/orchestrators/${encodeURIComponent(instanceId)}/events`;
  const socket = new WebSocket(since === undefined ? url : `${url}?since=${since}`, eventSocketProtocols(token));
  socket.onmessage = (message: MessageEvent<string>) => {
    const frame = parseFrame(message.data);
    if (frame.type === "ping") socket.send(JSON.stringify({ type: "pong" }));
    if (isEventOf(frame, "task_changed")) console.log(`${frame.data.task_id}: ${frame.data.new_status}`);
    onFrame(frame);
  };
  return socket;
}

/** Every SSE `event:` name the server sends (`ping` is a comment there, never an event). */
const SSE_FRAME_TYPES = [
  "snapshot", "reset", "gap", "status_updated", "task_changed", "phase_changed", "tool_started",
  "tool_completed", "orchestrator_state", "agent_text",
] as const satisfies readonly Exclude<StreamFrame["type"], "ping">[];

/** The same frames over Server-Sent Events; EventSource resumes with Last-Event-ID by itself.
 *  Frames are typed (`event: task_changed`), so `onmessage` sees none: listen per type. */
export function followEventsSse(instanceId: string, onFrame: (frame: StreamFrame) => void): EventSource {
  const url = `${baseUrl}/api/orchestrators/${encodeURIComponent(instanceId)}/events-sse?token=${token}`;
  const source = new EventSource(url);
  for (const type of SSE_FRAME_TYPES) {
    source.addEventListener(type, (message: MessageEvent<string>) => onFrame(parseFrame(message.data)));
  }
  return source;
}

/** Start a plan, wait until it has stopped, then clear it from the registry. */
export async function runOnce(plan: string): Promise<void> {
  const api = createClient({ baseUrl, token });
  let run;
  try {
    run = await api.startOrchestrator({ plan, max_retries: 1 }, { "Idempotency-Key": crypto.randomUUID() });
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      console.log(`already running: ${String(error.details.instance_id)}`);
      return;
    }
    throw error;
  }
  if ("dry_run" in run) return; // only when dry_run was asked for
  console.log(`started ${run.id}, output in ${run.log_file}`);
  for (;;) {
    const info = await api.get("/api/orchestrators/{id}", { params: { id: run.id } });
    if (info.status === "stopped" || info.status === "crashed" || !info.is_alive) break;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  await api.clearOrchestrator(run.id);
}
