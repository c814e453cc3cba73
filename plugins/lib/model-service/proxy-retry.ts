/**
 * Opens an upstream call, retrying the configured statuses (only 429 and 5xx are allowed there) and connection
 * failures with the shared backoff (model-http/retry.ts: equal jitter, Retry-After honoured). Any other status,
 * 400 above all, is returned at once: the same request would fail the same way.
 */
import { abortableSleep, backoffMs, isNetworkError, retryAfterMs } from "../model-http/retry.ts";

export interface ProxyRetryPolicy {
  retryableStatusCodes: number[];
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface Opened {
  response: Response;
  attempts: number;
}

export class UpstreamUnreachable extends Error {
  constructor(
    readonly attempts: number,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = "UpstreamUnreachable";
  }
}

export async function openWithRetry(
  send: () => Promise<Response>,
  policy: ProxyRetryPolicy,
  signal: AbortSignal,
  onRetry: (attempt: number, delayMs: number, reason: string) => void,
): Promise<Opened> {
  const policyForBackoff = { maxRetries: policy.maxRetries, baseDelayMs: policy.baseDelayMs, maxDelayMs: policy.maxDelayMs };
  for (let attempt = 1; ; attempt++) {
    const retriesLeft = attempt <= policy.maxRetries;
    let response: Response;
    try {
      response = await send();
    } catch (error) {
      if (signal.aborted || !isNetworkError(error)) throw error;
      if (!retriesLeft) throw new UpstreamUnreachable(attempt, error);
      const delayMs = backoffMs(attempt, policyForBackoff, Math.random);
      onRetry(attempt, delayMs, error instanceof Error ? error.message : String(error));
      await abortableSleep(delayMs, signal);
      continue;
    }
    if (!policy.retryableStatusCodes.includes(response.status) || !retriesLeft) return { response, attempts: attempt };
    const asked = retryAfterMs(response.headers);
    if (asked !== undefined && asked > policy.maxDelayMs) return { response, attempts: attempt };
    const delayMs = asked ?? backoffMs(attempt, policyForBackoff, Math.random);
    await response.body?.cancel().catch(() => {});
    onRetry(attempt, delayMs, `HTTP ${response.status}`);
    await abortableSleep(delayMs, signal);
  }
}

