/**
 * HTTP to the admin: bearer token, JSON or multipart bodies, a deadline per call, and ROCK's envelope unwrapped into
 * the result or a typed error. The admin answers business errors with HTTP 200 and status "Failed"; auth and routing
 * errors keep their HTTP status but still carry the envelope.
 */
import { AuthenticationRockError, ConnectionRockError, errorForCode, rockCodes, type RockError } from "./errors.ts";
import type { Envelope } from "./types.ts";

export const API_PREFIX = "/apis/envs/sandbox/v1";
export const DEFAULT_BASE_URL = "http://127.0.0.1:8080";
const DEFAULT_TIMEOUT_MS = 120_000;

export interface TransportOptions {
  /** The admin's address, e.g. http://127.0.0.1:8080 (default: $ROCK_BASE_URL, then that). */
  baseUrl?: string;
  /** The admin's bearer token (kernel `server.token`; default: $ROCK_API_TOKEN). */
  token?: string;
  /** Extra headers sent with every call. */
  headers?: Record<string, string>;
  /** Deadline of a call that sets none of its own, in ms (default 120 s). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface CallOptions {
  headers?: Record<string, string>;
  /** Deadline in ms; null for none (the server bounds the call). */
  timeoutMs?: number | null;
}

function envDefault(name: string): string | undefined {
  return typeof process !== "undefined" ? process.env[name] || undefined : undefined;
}

function isEnvelope(body: unknown): body is Envelope<unknown> {
  return typeof body === "object" && body !== null && ((body as Envelope<unknown>).status === "Success" || (body as Envelope<unknown>).status === "Failed");
}

export class AdminTransport {
  readonly baseUrl: string;
  private readonly apiUrl: string;
  private readonly headers: Record<string, string>;
  private readonly tokenSent: boolean;
  private readonly timeoutMs: number;
  private readonly fetcher: typeof fetch;

  constructor(options: TransportOptions = {}) {
    this.baseUrl = (options.baseUrl ?? envDefault("ROCK_BASE_URL") ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
    if (!/^https?:\/\/[^/]/.test(this.baseUrl)) throw new TypeError(`baseUrl must be an http(s) URL such as ${DEFAULT_BASE_URL} (got '${this.baseUrl}')`);
    this.apiUrl = this.baseUrl + API_PREFIX;
    const token = options.token ?? envDefault("ROCK_API_TOKEN");
    this.headers = { ...options.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) };
    this.tokenSent = Object.keys(this.headers).some((h) => h.toLowerCase() === "authorization");
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fetcher = options.fetch ?? fetch;
  }

  get<T>(path: string, query: Record<string, string | number | boolean | undefined> = {}, options: CallOptions = {}): Promise<T> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const search = params.size ? `?${params}` : "";
    return this.send<T>(path + search, { method: "GET" }, options);
  }

  post<T>(path: string, body: unknown, options: CallOptions = {}): Promise<T> {
    return this.send<T>(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }, options);
  }

  postForm<T>(path: string, form: FormData, options: CallOptions = {}): Promise<T> {
    return this.send<T>(path, { method: "POST", body: form }, options);
  }

  private async send<T>(path: string, init: RequestInit, options: CallOptions): Promise<T> {
    const url = this.apiUrl + path;
    const timeoutMs = options.timeoutMs === undefined ? this.timeoutMs : options.timeoutMs;
    let response: Response;
    let text: string;
    try {
      response = await this.fetcher(url, {
        ...init,
        headers: { ...this.headers, ...(init.headers as Record<string, string> | undefined), ...options.headers },
        signal: timeoutMs === null ? undefined : AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      const name = error instanceof Error ? error.name : "";
      if (name === "TimeoutError" || name === "AbortError") throw new ConnectionRockError(`${init.method} ${url} got no answer within ${timeoutMs} ms`);
      throw new ConnectionRockError(`the admin at ${this.baseUrl} is not reachable (${error instanceof Error ? error.message : String(error)})`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!isEnvelope(body)) {
      throw new ConnectionRockError(`${init.method} ${url} answered HTTP ${response.status} without ROCK's envelope: ${text.slice(0, 200)}`, { httpStatus: response.status });
    }
    if (body.status === "Success" && response.ok) return body.result as T;
    throw failure(body, response.status, this.tokenSent);
  }
}

/** The typed error of a Failed envelope: its `result.code` decides the class; the text names the problem. */
function failure(envelope: Envelope<unknown>, httpStatus: number, tokenSent: boolean): RockError {
  const result = (typeof envelope.result === "object" && envelope.result !== null ? envelope.result : null) as Record<string, unknown> | null;
  const reason = (envelope.error ?? (typeof result?.failure_reason === "string" ? result.failure_reason : null) ?? envelope.message ?? `HTTP ${httpStatus}`).trim();
  const message = envelope.message && envelope.message !== reason ? `${envelope.message}: ${reason}` : reason;
  const details = { routeMessage: envelope.message, httpStatus: httpStatus === 200 ? undefined : httpStatus, result };
  if (httpStatus === 401) {
    const hint = tokenSent ? "the token sent is not the admin's" : "no token was sent (the token option, default $ROCK_API_TOKEN)";
    return new AuthenticationRockError(`${message}: ${hint}; the admin's token is its server.token / ROCK_API_TOKEN (or plugins.admin.token / ROCK_ADMIN_TOKEN)`, details);
  }
  const clientFault = envelope.message === "invalid parameter" || (httpStatus >= 400 && httpStatus < 500);
  const code = typeof result?.code === "number" ? result.code : clientFault ? rockCodes.badRequest : rockCodes.internal;
  return errorForCode(code, message, details);
}
