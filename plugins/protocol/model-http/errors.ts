/**
 * Builds the ModelErrors (and the caller-abort AbortError) of an upstream call. Every message names the
 * client and the upstream host, carries the upstream's own message and status where there is one, and
 * has the call's secrets (API keys) masked out, since upstreams sometimes echo the key back.
 */
import { ModelError } from "../../../core/kinds/model.ts";
import { asObject, asString } from "./shape.ts";

export interface ErrorContext {
  /** Client name, e.g. "openai". */
  client: string;
  /** host:port of the upstream, never the full URL (it may carry query credentials). */
  target: string;
  secrets: readonly string[];
}

/** Pulls the human-readable message out of a vendor's JSON error body. */
export type ErrorMessageReader = (body: unknown) => string | undefined;

const MAX_UPSTREAM_MESSAGE = 500;

export function targetOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "(invalid url)";
  }
}

/** Secrets shorter than this are not masked: they would garble messages and protect nothing. */
const MIN_SECRET_LENGTH = 4;

export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= MIN_SECRET_LENGTH) out = out.split(secret).join("***");
  }
  return out;
}

function modelError(ctx: ErrorContext, message: string, status?: number, retryable = false): ModelError {
  return new ModelError(redact(`${ctx.client}: ${message}`, ctx.secrets), status, retryable);
}

function attemptsNote(attempts: number): string {
  return attempts > 1 ? ` (after ${attempts} attempts)` : "";
}

/** A non-2xx response: reads its body for the upstream's message. */
export async function httpError(
  ctx: ErrorContext,
  response: Response,
  attempts: number,
  readMessage: ErrorMessageReader,
): Promise<ModelError> {
  const detail = upstreamMessage(await response.text().catch(() => ""), readMessage) || response.statusText || "no details";
  const retried = attempts > 1;
  return modelError(ctx, `${ctx.target} returned HTTP ${response.status}: ${detail}${attemptsNote(attempts)}`, response.status, retried);
}

function upstreamMessage(text: string, readMessage: ErrorMessageReader): string {
  let message: string | undefined;
  try {
    message = readMessage(JSON.parse(text));
  } catch {
    // not JSON: fall back to the raw text
  }
  const chosen = (message ?? text).trim();
  return chosen.length > MAX_UPSTREAM_MESSAGE ? `${chosen.slice(0, MAX_UPSTREAM_MESSAGE)}…` : chosen;
}

/** The common `{error: {message}}` / `{error: "…"}` / `{message}` error bodies. */
export const readCommonErrorMessage: ErrorMessageReader = (body) => {
  const object = asObject(body);
  const error = object?.error;
  return asString(asObject(error)?.message) ?? asString(error) ?? asString(object?.message);
};

/** An error reported inside an otherwise successful stream (an SSE error event, an NDJSON `error` line). */
export function upstreamError(ctx: ErrorContext, message: string, status?: number): ModelError {
  return modelError(ctx, `${ctx.target} reported an error${status ? ` (HTTP ${status})` : ""}: ${message}`, status);
}

export function connectionError(ctx: ErrorContext, detail: string, attempts: number): ModelError {
  return modelError(ctx, `cannot reach ${ctx.target}: ${detail}${attemptsNote(attempts)}`, undefined, attempts > 1);
}

export function timeoutError(ctx: ErrorContext, timeoutMs: number): ModelError {
  return modelError(ctx, `timed out after ${timeoutMs} ms waiting for ${ctx.target}`);
}

export function streamCutError(ctx: ErrorContext, detail: string): ModelError {
  return modelError(ctx, `stream from ${ctx.target} broke off before it finished: ${detail}`);
}

export function protocolError(ctx: ErrorContext, detail: string): ModelError {
  return modelError(ctx, `unexpected response from ${ctx.target}: ${detail}`);
}

/** The contract ends a caller-cancelled stream with an AbortError, not a ModelError. */
export function callerAbortError(ctx: ErrorContext): DOMException {
  return new DOMException(`${ctx.client}: request to ${ctx.target} aborted by the caller`, "AbortError");
}
