/**
 * Retries an HTTP request on 429, 5xx and connection failures with exponential backoff and jitter,
 * honouring Retry-After. Only the opening of the request is retried: once a 2xx response is returned
 * its body belongs to the caller, so a stream that breaks midway is never silently replayed.
 */

export interface RetryPolicy {
  /** Retries after the first attempt (0 disables retrying). */
  maxRetries: number;
  /** Backoff before retry n is about baseDelayMs * 2^(n-1), jittered. */
  baseDelayMs: number;
  /** Upper bound of any wait; a longer Retry-After ends the retries instead. */
  maxDelayMs: number;
  /** Statuses worth another attempt; default 429 and every 5xx. Other 4xx would fail the same way again. */
  retryableStatuses?: readonly number[];
}

export interface RetryInfo {
  attempt: number;
  delayMs: number;
  status?: number;
  error?: string;
}

export interface RetryHooks {
  signal: AbortSignal;
  /** Time left for the whole call; a wait that would not fit ends the retries. */
  remainingMs?: () => number;
  onRetry?: (info: RetryInfo) => void;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

/** Every attempt failed to connect (or the last one did and no retry was left). */
export class ConnectionFailure extends Error {
  constructor(
    readonly attempts: number,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = "ConnectionFailure";
  }
}

export interface Attempted {
  /** The 2xx response, or the error response to report (its body unread). */
  response: Response;
  attempts: number;
}

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

export async function fetchWithRetry(send: () => Promise<Response>, policy: RetryPolicy, hooks: RetryHooks): Promise<Attempted> {
  const sleep = hooks.sleep ?? abortableSleep;
  const random = hooks.random ?? Math.random;
  const retryable = policy.retryableStatuses ? (status: number) => policy.retryableStatuses!.includes(status) : isRetryableStatus;
  for (let attempt = 1; ; attempt++) {
    const retriesLeft = attempt <= policy.maxRetries;
    let response: Response;
    try {
      response = await send();
    } catch (error) {
      // Only network failures are retried; anything else (a permission check refusing the URL) is final.
      if (hooks.signal.aborted || !isNetworkError(error)) throw error;
      const delayMs = backoffMs(attempt, policy, random);
      if (!retriesLeft || !fits(delayMs, hooks)) throw new ConnectionFailure(attempt, error);
      hooks.onRetry?.({ attempt, delayMs, error: error instanceof Error ? error.message : String(error) });
      await sleep(delayMs, hooks.signal);
      continue;
    }
    if (response.ok || !retryable(response.status) || !retriesLeft) return { response, attempts: attempt };
    const asked = retryAfterMs(response.headers);
    if (asked !== undefined && asked > policy.maxDelayMs) return { response, attempts: attempt };
    const delayMs = asked ?? backoffMs(attempt, policy, random);
    if (!fits(delayMs, hooks)) return { response, attempts: attempt };
    await response.body?.cancel().catch(() => {});
    hooks.onRetry?.({ attempt, delayMs, status: response.status });
    await sleep(delayMs, hooks.signal);
  }
}

/** Fetch rejects with a TypeError on network failure; Bun adds a system code such as ECONNREFUSED. */
export function isNetworkError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof TypeError || (typeof code === "string" && /^E[A-Z]+$/.test(code));
}

function fits(delayMs: number, hooks: RetryHooks): boolean {
  return hooks.remainingMs === undefined || delayMs < hooks.remainingMs();
}

/** Half fixed, half random ("equal jitter"): spreads clients apart without ever retrying instantly. */
export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** `retry-after-ms` (OpenAI/Azure), else `Retry-After` as seconds or an HTTP date. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = parseNonNegative(headers.get("retry-after-ms"));
  if (ms !== undefined) return Math.round(ms);
  const value = headers.get("retry-after")?.trim();
  if (!value) return undefined;
  const seconds = parseNonNegative(value);
  if (seconds !== undefined) return Math.round(seconds * 1000);
  // An HTTP date names a weekday and month; bare numbers such as "-1" are not dates.
  if (!/[a-z]/i.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function parseNonNegative(text: string | null | undefined): number | undefined {
  if (!text || !/^\s*\d+(\.\d+)?\s*$/.test(text)) return undefined;
  return Number(text);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
