/**
 * A small typed fetch client for the Plan Orchestrator Server.
 *
 * Paths, parameters, bodies and responses all come from api-types.ts (generated from the
 * server's OpenAPI schema by `python manage.py export_api_types`), so a call that does not
 * match the server's API fails to compile instead of failing at runtime.
 *
 *   const api = createClient({ baseUrl: "http://127.0.0.1:8000", token });
 *   const plans = await api.get("/api/plans");
 *   await api.post("/api/orchestrators/{id}/pause", { params: { id: "orch-1" } });
 *   const run = await api.startOrchestrator({ plan: "my-plan", max_iterations: 10 });
 *   await api.delete("/api/orchestrators/{id}", { params: { id: run.id } });  // once it has stopped
 */
import type { components, paths } from "./api-types";

type Method = "get" | "post" | "delete";

type Schemas = components["schemas"];
/** POST /api/orchestrators: the plan and the options of `manage.py orchestrate` (never the agent command). */
export type StartRequest = Schemas["StartRequestRequest"];
/** A started, registered orchestrator (201), with its log file. */
export type StartedOrchestrator = Schemas["StartedOrchestrator"];
/** What a dry run (200) says it would do; nothing was started. */
export type DryRun = Schemas["DryRun"];

/** The path templates that have an operation for `M`. */
export type PathsWith<M extends Method> = {
  [P in keyof paths]: paths[P] extends Record<M, object> ? P : never;
}[keyof paths];

type Operation<P extends keyof paths, M extends Method> = paths[P] extends Record<M, infer Op> ? Op : never;

type Parameters<Op, Where extends "path" | "query" | "header"> = Op extends { parameters: infer All }
  ? All extends { [K in Where]?: infer Params }
    ? Exclude<Params, undefined>
    : never
  : never;

/** `body` is required when the operation's request body is. */
type BodyOption<Op> = Op extends { requestBody: { content: { "application/json": infer Body } } }
  ? { body: Body }
  : Op extends { requestBody?: { content: { "application/json": infer Body } } }
    ? { body?: Body }
    : { body?: undefined };

type JsonContent<R> = R extends { content: { "application/json": infer Body } } ? Body : undefined;

/** The JSON body of the operation's success response (200, 201, 202; undefined for 204). */
export type ResponseBody<Op> = Op extends { responses: infer R }
  ? R extends { 200: infer Ok }
    ? JsonContent<Ok>
    : R extends { 201: infer Created }
      ? JsonContent<Created>
      : R extends { 202: infer Accepted }
        ? JsonContent<Accepted>
        : undefined
  : never;

type Optional<T> = [T] extends [never] ? { [key: string]: never } : T;

/** What one call takes: `params` (required when the path has placeholders), `query`, `body`, `headers`. */
export type RequestOptions<Op> = ([Parameters<Op, "path">] extends [never]
  ? { params?: undefined }
  : { params: Parameters<Op, "path"> }) & BodyOption<Op> & {
  query?: Optional<Parameters<Op, "query">>;
  /** Header parameters of the operation (If-Match, Idempotency-Key ...) and any others. */
  headers?: Partial<Optional<Parameters<Op, "header">>> & Record<string, string>;
  signal?: AbortSignal;
};

type Args<Op> = [Parameters<Op, "path">] extends [never]
  ? Op extends { requestBody: object }
    ? [options: RequestOptions<Op>]
    : [options?: RequestOptions<Op>]
  : [options: RequestOptions<Op>];

/** The server's error body: `{"error": {"code", "message", "details"}}` (docs/api.md lists the codes). */
export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** Any non-2xx answer, or no answer at all (`status` 0, code `network_error`). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;
  readonly body: unknown;

  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}, body?: unknown) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.body = body;
  }
}

export interface ClientOptions {
  /** Server origin, e.g. "http://127.0.0.1:8000" (no trailing slash needed). */
  baseUrl: string;
  /** API token (`python manage.py create_local_user` prints one); sent as `Authorization: Token <key>`. */
  token?: string;
  /** A fetch implementation (defaults to the global one). */
  fetch?: typeof fetch;
}

function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== "object" || value === null || !("error" in value)) return false;
  const error = (value as { error: unknown }).error;
  return typeof error === "object" && error !== null && "code" in error && "message" in error;
}

export function buildUrl(baseUrl: string, template: string, params?: object, query?: object): string {
  const values = (params ?? {}) as Record<string, unknown>;
  const path = template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined || value === null) throw new TypeError(`Missing path parameter "${name}" for ${template}`);
    return encodeURIComponent(String(value));
  });
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null) search.append(key, String(value));
  }
  const encoded = search.toString();
  const suffix = encoded ? `?${encoded}` : "";
  return `${baseUrl.replace(/\/+$/, "")}${path}${suffix}`;
}

export function createClient(options: ClientOptions) {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);

  async function request(method: Method, template: string, init: RequestOptions<unknown> | undefined): Promise<unknown> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (options.token) headers.Authorization = `Token ${options.token}`;
    if (init?.body !== undefined) headers["Content-Type"] = "application/json";
    Object.assign(headers, init?.headers);
    let response: Response;
    try {
      response = await doFetch(buildUrl(options.baseUrl, template, init?.params, init?.query), {
        method: method.toUpperCase(),
        headers,
        body: init?.body === undefined ? undefined : JSON.stringify(init.body),
        signal: init?.signal,
      });
    } catch (cause) {
      throw new ApiError(0, "network_error", `No answer from ${options.baseUrl}: ${String(cause)}`);
    }
    const text = await response.text();
    let body: unknown = undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    if (!response.ok) {
      if (isErrorBody(body)) {
        throw new ApiError(response.status, body.error.code, body.error.message, body.error.details ?? {}, body);
      }
      throw new ApiError(response.status, `http_${response.status}`, response.statusText || "Request failed", {}, body);
    }
    return body;
  }

  return {
    get<P extends PathsWith<"get">>(path: P, ...[init]: Args<Operation<P, "get">>) {
      return request("get", path, init as RequestOptions<unknown>) as Promise<ResponseBody<Operation<P, "get">>>;
    },
    post<P extends PathsWith<"post">>(path: P, ...[init]: Args<Operation<P, "post">>) {
      return request("post", path, init as RequestOptions<unknown>) as Promise<ResponseBody<Operation<P, "post">>>;
    },
    delete<P extends PathsWith<"delete">>(path: P, ...[init]: Args<Operation<P, "delete">>) {
      return request("delete", path, init as RequestOptions<unknown>) as Promise<ResponseBody<Operation<P, "delete">>>;
    },
    /**
     * Start an orchestrator for a plan: resolves once it has registered (201), or with the forecast
     * of a dry run (200). 409 if one already runs the plan (`details.instance_id` names it), 502 with
     * `details.output_tail` if it failed to start. Send an Idempotency-Key to make a retry safe.
     */
    startOrchestrator(body: StartRequest, headers?: Record<string, string>): Promise<StartedOrchestrator | DryRun> {
      return request("post", "/api/orchestrators", { body, headers } as unknown as RequestOptions<unknown>) as Promise<
        StartedOrchestrator | DryRun
      >;
    },
    /** Remove a stopped or crashed orchestrator from the registry (409 while it is live). */
    clearOrchestrator(id: string) {
      return request("delete", "/api/orchestrators/{id}", { params: { id } } as unknown as RequestOptions<unknown>) as Promise<
        ResponseBody<Operation<"/api/orchestrators/{id}", "delete">>
      >;
    },
  };
}

export type Client = ReturnType<typeof createClient>;
