/**
 * Proxy mode: the agent's chat completion goes to the upstream its model's rule names. Request and response bytes
 * pass unchanged (SSE streams too, chunk by chunk), vendor fields included; only hop-by-hop headers are dropped and
 * the rule's API key, when it has one, replaces the agent's. Optionally each call is recorded to a trajectory file,
 * or calls are answered from a recorded one instead of an upstream.
 */
import { completionChunks, sseBody, wantsUsage } from "./chat-stream.ts";
import { errorReply, json, SSE_HEADERS } from "./http-replies.ts";
import { ConnectionFailure, fetchWithRetry } from "../../protocol/model-http/retry.ts";
import { routeFor } from "./proxy-rules.ts";
import type { ServiceLog } from "./service-log.ts";
import type { ServiceSettings } from "./settings.ts";
import { aggregateStream } from "./stream-aggregate.ts";
import { TrajectoryRecorder, TrajectoryReplayer, type TrajectoryEntry } from "./trajectory.ts";

const DROPPED_REQUEST_HEADERS = ["host", "content-length", "transfer-encoding", "connection", "accept-encoding", "keep-alive", "upgrade"];
/** Bun's fetch has already decoded the body, so its encoding and length no longer describe what we send on. */
const DROPPED_RESPONSE_HEADERS = ["content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive"];

export class ProxyForwarder {
  private readonly recorder?: TrajectoryRecorder;
  private readonly replayer?: TrajectoryReplayer;

  constructor(
    private readonly settings: ServiceSettings,
    private readonly log: ServiceLog,
  ) {
    const { recordingFile, replayFile } = settings.proxy;
    if (replayFile) this.replayer = new TrajectoryReplayer(replayFile);
    else if (recordingFile) this.recorder = new TrajectoryRecorder(recordingFile);
  }

  async chat(request: Request): Promise<Response> {
    const text = await request.text();
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text);
      if (typeof body !== "object" || body === null || Array.isArray(body)) throw new SyntaxError("expected a JSON object");
    } catch (error) {
      return errorReply(400, `the request body is not a JSON object: ${(error as Error).message}`, "invalid_request_error");
    }
    if (this.replayer) return this.replay(body);
    const { proxy } = this.settings;
    const route = routeFor(body.model, proxy.baseUrl, proxy.rules);
    if ("error" in route) return errorReply(400, route.error, "invalid_request_error");

    const headers = new Headers(request.headers);
    for (const name of DROPPED_REQUEST_HEADERS) headers.delete(name);
    if (route.rule.apiKey) headers.set("authorization", `Bearer ${route.rule.apiKey}`);

    const started = Date.now();
    const upstreamCall = new AbortController();
    const onClientGone = () => upstreamCall.abort(request.signal.reason);
    request.signal.addEventListener("abort", onClientGone, { once: true });
    const timeoutMs = this.settings.requestTimeoutMs;
    let timedOut = false;
    // The timeout covers the wait for the upstream's answer to begin; a stream that has begun may run as long as it needs.
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => ((timedOut = true), upstreamCall.abort()), timeoutMs);

    const host = new URL(route.url).host;
    let opened;
    try {
      opened = await fetchWithRetry(
        () => fetch(route.url, { method: "POST", headers, body: text, signal: upstreamCall.signal }),
        { maxRetries: proxy.maxRetries, baseDelayMs: proxy.retryBaseDelayMs, maxDelayMs: proxy.retryMaxDelayMs, retryableStatuses: proxy.retryableStatusCodes },
        {
          signal: upstreamCall.signal,
          onRetry: ({ attempt, delayMs, status, error }) =>
            this.log("retrying upstream", { host, attempt, delay_ms: delayMs, reason: error ?? `HTTP ${status}` }),
        },
      );
    } catch (error) {
      const failure = timedOut
        ? errorReply(504, `${host} did not answer within ${timeoutMs! / 1000} s`, "upstream_timeout")
        : error instanceof ConnectionFailure
          ? errorReply(502, `cannot reach ${host} after ${error.attempts} attempt(s): ${error.message}`, "upstream_unreachable")
          : request.signal.aborted
            ? errorReply(499, "the client closed the request", "client_closed_request")
            : errorReply(502, `call to ${host} failed: ${(error as Error).message}`, "upstream_error");
      this.record(body, started, undefined, await failure.clone().text());
      request.signal.removeEventListener("abort", onClientGone);
      return failure;
    } finally {
      clearTimeout(timer);
    }

    const upstream = opened.response;
    const responseHeaders = new Headers(upstream.headers);
    for (const name of DROPPED_RESPONSE_HEADERS) responseHeaders.delete(name);
    let toAgent: ReadableStream<Uint8Array> | null = upstream.body;
    if (this.recorder && upstream.body) {
      const [forAgent, forRecord] = upstream.body.tee();
      toAgent = forAgent;
      void this.recordBody(body, started, upstream, forRecord);
    }
    return new Response(toAgent, { status: upstream.status, statusText: upstream.statusText, headers: responseHeaders });
  }

  private async recordBody(request: Record<string, unknown>, started: number, upstream: Response, body: ReadableStream<Uint8Array>): Promise<void> {
    try {
      const streamed = (upstream.headers.get("content-type") ?? "").includes("text/event-stream");
      const response = streamed ? await aggregateStream(body) : await new Response(body).text().then(parseOrText);
      this.record(request, started, upstream.ok ? response : undefined, upstream.ok ? undefined : JSON.stringify(response), upstream.status);
    } catch (error) {
      this.record(request, started, undefined, `the upstream stream broke off: ${(error as Error).message}`);
    }
  }

  private record(request: Record<string, unknown>, started: number, response: unknown, error: string | undefined, status?: number): void {
    if (!this.recorder) return;
    const ended = Date.now();
    const entry: TrajectoryEntry = {
      model: request.model ?? null,
      stream: request.stream === true,
      status: error === undefined ? "success" : "failure",
      response_time: (ended - started) / 1000,
      start_time: started / 1000,
      end_time: ended / 1000,
      request,
      response: response ?? null,
      error: error === undefined ? null : status ? `HTTP ${status}: ${error}` : error,
    };
    this.recorder.record(entry);
  }

  private replay(body: Record<string, unknown>): Response {
    const next = this.replayer!.next();
    if ("exhausted" in next) return errorReply(404, next.exhausted, "trajectory_exhausted");
    const { entry, step } = next;
    if (entry.model !== body.model) this.log("replayed step is for another model", { step, recorded: entry.model, asked: body.model });
    if (entry.status !== "success" || entry.response === null) {
      return errorReply(502, `recorded step ${step} failed: ${entry.error ?? "no response"}`, "recorded_failure");
    }
    if (body.stream === true) return new Response(sseBody(completionChunks(entry.response, wantsUsage(body))), { headers: SSE_HEADERS });
    return json(entry.response);
  }
}

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
