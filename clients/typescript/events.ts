/**
 * Frames of the real-time streams, over WebSocket and Server-Sent Events alike.
 *
 *   WebSocket  ws(s)://<host>/api/orchestrators/{id}/events[?since=<id>]   every event of one instance
 *              ws(s)://<host>/api/orchestrators/{id}/activity              tool_started / tool_completed only
 *              ws(s)://<host>/api/events                                   every instance
 *   SSE        http(s)://<host>/api/orchestrators/{id}/events-sse[?since=<id>]
 *
 * A connection sends a `snapshot` first, then the events after `since` (or one `reset` when the
 * server no longer has them), then live events. `gap` says which ids were dropped because the
 * client fell behind; `ping` keeps the socket alive (answer with any frame). Event ids grow by one
 * per instance: resume with `since=<last id seen>` (SSE's EventSource sends Last-Event-ID itself).
 * Shapes as the server defines them: orchestrator/events.py (events), realtime/stream.py,
 * realtime/outbox.py and realtime/snapshots.py (control frames); docs/realtime.md explains them.
 */
import type { components } from "./api-types";

export type TaskStatus = "pending" | "in_progress" | "completed" | "failed" | "skipped";
export type OrchestratorState = "running" | "paused" | "stopping" | "stopped" | "crashed";

/** One task of status.json (camelCase, as the file has it; unknown keys are kept by every writer). */
export interface StatusFileTask {
  id: string;
  description?: string;
  status: TaskStatus;
  phase?: string;
  startedAt?: string;
  completedAt?: string;
  /** Milliseconds. */
  duration?: number;
  findingsPath?: string;
  error?: string;
  notes?: string;
  skipReason?: string;
  retryCount?: number;
  [key: string]: unknown;
}

/** The whole status.json object, the data of `status_updated`. */
export interface StatusFile {
  planPath: string;
  planName: string;
  createdAt: string;
  lastUpdatedAt?: string;
  currentPhase?: string;
  tasks: StatusFileTask[];
  summary?: {
    totalTasks?: number;
    completed?: number;
    pending?: number;
    failed?: number;
    skipped?: number;
    in_progress?: number;
  };
  [key: string]: unknown;
}

/** Each event type's `data`. */
export interface EventDataMap {
  status_updated: StatusFile;
  /** old_status is null for a task the previous status file did not have. */
  task_changed: {
    task_id: string;
    description: string;
    old_status: TaskStatus | null;
    new_status: TaskStatus;
    phase: string | null;
  };
  phase_changed: { old_phase: string | null; new_phase: string | null };
  /** task_id: the task the agent is running, when it runs one. */
  tool_started: { tool_id: string; tool_name: string; input_summary: string; task_id?: string };
  /** duration in seconds, from tool_use to its tool_result. */
  tool_completed: { tool_id: string; tool_name: string; duration: number; success: boolean; task_id?: string };
  /** reason says why (null when there is nothing to add). */
  orchestrator_state: { state: OrchestratorState; reason: string | null };
  /** What the agent wrote, cut to 2,000 characters (`truncated`); the transcript REST endpoint has more. */
  agent_text: { text: string; truncated: boolean; task_id: string | null };
}

export type EventType = keyof EventDataMap;

/** The envelope shared by the bus, the journal, WebSocket and SSE. */
export type OrchestratorEvent<T extends EventType = EventType> = {
  [K in T]: { id: number; type: K; timestamp: string; instance_id: string; data: EventDataMap[K] };
}[T];

/** Error reported inside a snapshot when part of it could not be read (the stream still works). */
export interface SnapshotError {
  code: string;
  message: string;
}

interface ControlFrameBase<T extends string, I, D> {
  type: T;
  timestamp: string;
  instance_id: I;
  data: D;
}

/** First frame of an instance stream: the instance's status now and the id the stream continues from. */
export type InstanceSnapshotFrame = ControlFrameBase<
  "snapshot",
  string,
  {
    status: components["schemas"]["OrchestratorStatus"] | null;
    error: SnapshotError | null;
    last_event_id: number | null;
  }
>;

/** First frame of /api/events: every registered instance. */
export type AllInstancesSnapshotFrame = ControlFrameBase<
  "snapshot",
  null,
  { orchestrators: components["schemas"]["Orchestrator"][]; error: SnapshotError | null }
>;

/** Events from_id..to_id were dropped for this client; replay with `since` to get them back. */
export type GapFrame = ControlFrameBase<"gap", string, { from_id: number; to_id: number; count: number; since: number }>;

/** The `since` cursor is older than the server's journal: refetch the state over REST, then go on. */
export type ResetFrame = ControlFrameBase<
  "reset",
  string | null,
  { reason: "no_journal" | "cursor_out_of_range"; since: number; oldest_id?: number | null; last_id: number }
>;

/** WebSocket keep-alive (SSE sends a `: ping` comment instead); reply with any frame. */
export type PingFrame = ControlFrameBase<"ping", string | null, { interval?: number }>;

export type ControlFrame = InstanceSnapshotFrame | AllInstancesSnapshotFrame | GapFrame | ResetFrame | PingFrame;

export type StreamFrame = OrchestratorEvent | ControlFrame;

/** WebSocket close codes the server uses. */
export const CloseCode = {
  /** No credentials where reads need them, or a bad token. */
  Unauthenticated: 4401,
  /** The page's origin is not trusted. */
  Forbidden: 4403,
  /** No such orchestrator instance. */
  NotFound: 4404,
  /** No answer to two pings. */
  Stale: 4408,
  /** The client stopped reading (over 1 MiB unread for 20 s); reconnect with `since`. */
  TooSlow: 4429,
  /** `since` is not an event id. */
  BadRequest: 4400,
  /** The stream failed on the server's side. */
  ServerError: 4500,
  /** The channel layer (Redis) is unreachable; reconnect later. */
  TryAgain: 4503,
} as const;

/** WebSocket subprotocols: browsers cannot set headers, so the token travels as `token.<key>`. */
export function eventSocketProtocols(token?: string): string[] {
  return token ? ["orchestrator-events", `token.${token}`] : ["orchestrator-events"];
}

export function isEvent(frame: StreamFrame): frame is OrchestratorEvent {
  return "id" in frame && typeof frame.id === "number";
}

/** Narrow an event to one type: `if (isEventOf(frame, "task_changed")) frame.data.new_status`. */
export function isEventOf<T extends EventType>(frame: StreamFrame, type: T): frame is Extract<OrchestratorEvent, { type: T }> {
  return isEvent(frame) && frame.type === type;
}

/** Parse one WebSocket message or SSE `data:` payload. */
export function parseFrame(text: string): StreamFrame {
  return JSON.parse(text) as StreamFrame;
}
