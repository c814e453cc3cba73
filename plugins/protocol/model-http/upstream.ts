/**
 * One upstream call, start to finish: deadline, retried opening, HTTP error mapping, and turning whatever
 * was thrown into the contract's errors (ModelError, or AbortError when the caller cancelled).
 */
import { ModelError } from "../../../core/kinds/model.ts";
import { createDeadline, type Deadline } from "./deadline.ts";
import { decodeBatches, type Decoder } from "./decoder.ts";
import type { Fetch, Log } from "./deps.ts";
import {
  callerAbortError,
  connectionError,
  httpError,
  protocolError,
  redact,
  streamCutError,
  targetOf,
  timeoutError,
  type ErrorContext,
  type ErrorMessageReader,
} from "./errors.ts";
import { MalformedFrame } from "./json-frame.ts";
import { ConnectionFailure, fetchWithRetry, type RetryPolicy } from "./retry.ts";

export interface Upstream {
  client: string;
  fetch: Fetch;
  log?: Log;
  /** Masked out of every error and log message. */
  secrets: readonly string[];
  retry: RetryPolicy;
  timeoutMs: number;
  readErrorMessage: ErrorMessageReader;
}

export interface UpstreamRequest {
  url: string;
  init: RequestInit;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Decodes a 2xx body; errors it throws that are ModelErrors pass through unchanged. */
export type DecoderFactory<T> = (ctx: ErrorContext) => Decoder<T>;

/** The decoded body, one batch per network read. */
export async function* streamUpstream<T>(up: Upstream, request: UpstreamRequest, decoder: DecoderFactory<T>): AsyncGenerator<T[]> {
  const ctx = errorContext(up, request.url);
  const deadline = createDeadline(request.signal, request.timeoutMs ?? up.timeoutMs);
  let streaming = false;
  try {
    const response = await open(up, request, deadline, ctx);
    if (!response.body) throw protocolError(ctx, "the response has no body");
    streaming = true;
    yield* decodeBatches(response.body, decoder(ctx));
  } catch (error) {
    throw failure(error, deadline, ctx, streaming);
  } finally {
    deadline.dispose();
  }
}

export async function fetchUpstreamJson(up: Upstream, request: UpstreamRequest): Promise<unknown> {
  const ctx = errorContext(up, request.url);
  const deadline = createDeadline(request.signal, request.timeoutMs ?? up.timeoutMs);
  let reading = false;
  try {
    const response = await open(up, request, deadline, ctx);
    reading = true;
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      throw protocolError(ctx, `expected JSON, got ${text.slice(0, 200)}`);
    }
  } catch (error) {
    throw failure(error, deadline, ctx, reading);
  } finally {
    deadline.dispose();
  }
}

/** The target is parsed out of the URL only when an error or a retry names it, not on every call. */
export function errorContext(up: Upstream, url: string): ErrorContext {
  let target: string | undefined;
  return {
    client: up.client,
    secrets: up.secrets,
    get target() {
      return (target ??= targetOf(url));
    },
  };
}

async function open(up: Upstream, request: UpstreamRequest, deadline: Deadline, ctx: ErrorContext): Promise<Response> {
  const { response, attempts } = await fetchWithRetry(
    () => up.fetch(request.url, { ...request.init, signal: deadline.signal }),
    up.retry,
    {
      signal: deadline.signal,
      remainingMs: deadline.remainingMs,
      onRetry: (info) =>
        up.log?.(`${up.client}: retrying ${ctx.target}`, {
          ...info,
          error: info.error === undefined ? undefined : redact(info.error, up.secrets),
        }),
    },
  );
  if (!response.ok) throw await httpError(ctx, response, attempts, up.readErrorMessage);
  return response;
}

function failure(error: unknown, deadline: Deadline, ctx: ErrorContext, streaming: boolean): Error {
  // The deadline comes first: an aborted read rejects with whatever reason the abort carried.
  const cause = deadline.abortCause();
  if (cause === "timeout") return timeoutError(ctx, deadline.timeoutMs);
  if (cause === "caller") return callerAbortError(ctx);
  if (error instanceof ModelError) return error;
  if (error instanceof ConnectionFailure) return connectionError(ctx, describe(error.cause), error.attempts);
  if (error instanceof MalformedFrame) return protocolError(ctx, error.message);
  if (streaming) return streamCutError(ctx, describe(error));
  // Not a network failure (e.g. the kernel's permission check refused the URL): the original error says it best.
  return error instanceof Error ? error : new Error(String(error));
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  // Bun appends advice about `verbose: true` to fetch errors; the first sentence is what matters.
  const message = error.message.split(". For more information")[0];
  return typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message;
}

/** Listing models is a quick metadata call: it gets a shorter deadline than a generation. */
const MODELS_TIMEOUT_MS = 15_000;

/** `Authorization: Bearer` when there is a key, next to `extra`. */
export function bearerHeaders(key: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
  return key ? { ...extra, authorization: `Bearer ${key}` } : { ...extra };
}

/** POSTs `body` as JSON and streams the reply through `decoder`. */
export function postJsonStream<T>(
  up: Upstream,
  request: { url: string; body: unknown; headers: Record<string, string>; accept: string; signal?: AbortSignal; timeoutMs?: number },
  decoder: DecoderFactory<T>,
): AsyncGenerator<T[]> {
  return streamUpstream(
    up,
    {
      url: request.url,
      init: { method: "POST", headers: { ...request.headers, "content-type": "application/json", accept: request.accept }, body: JSON.stringify(request.body) },
      signal: request.signal,
      timeoutMs: request.timeoutMs,
    },
    decoder,
  );
}

/** The names a listing route returns (picked out by `pick`), or `fallback` when it fails or lists none. */
export async function listModels(up: Upstream, url: string, headers: Record<string, string>, pick: (listing: unknown) => string[], fallback: string[]): Promise<string[]> {
  try {
    const listing = await fetchUpstreamJson(up, { url, init: { method: "GET", headers }, timeoutMs: Math.min(up.timeoutMs, MODELS_TIMEOUT_MS) });
    const names = pick(listing);
    if (names.length) return names;
  } catch (error) {
    up.log?.(`${up.client}: listing models failed, using the configured model`, { error: String(error) });
  }
  return fallback;
}
