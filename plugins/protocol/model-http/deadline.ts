/**
 * One AbortSignal for an upstream call that fires on the caller's abort or on the call's timeout,
 * remembering which of the two fired so that the error can say so.
 */

export type AbortCause = "timeout" | "caller";

export interface Deadline {
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  /** Why `signal` fired, or undefined while it has not. */
  abortCause(): AbortCause | undefined;
  /** Milliseconds left before the timeout fires (0 once it has). */
  remainingMs(): number;
  /** Stops the timer and detaches from the caller's signal; call when the call is over. */
  dispose(): void;
}

/** setTimeout fires at once for delays beyond a signed 32-bit int; longer deadlines are capped there (~24 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function createDeadline(callerSignal: AbortSignal | undefined, timeoutMs: number): Deadline {
  const controller = new AbortController();
  const endsAt = Date.now() + timeoutMs;
  let cause: AbortCause | undefined;

  const fire = (why: AbortCause, reason: unknown) => {
    if (cause) return;
    cause = why;
    controller.abort(reason);
  };
  const onCallerAbort = () => fire("caller", callerSignal?.reason);
  const timer = setTimeout(
    () => fire("timeout", new DOMException(`timed out after ${timeoutMs} ms`, "TimeoutError")),
    Math.min(timeoutMs, MAX_TIMER_MS),
  );

  if (callerSignal?.aborted) onCallerAbort();
  else callerSignal?.addEventListener("abort", onCallerAbort, { once: true });

  return {
    signal: controller.signal,
    timeoutMs,
    abortCause: () => cause,
    remainingMs: () => Math.max(0, endsAt - Date.now()),
    dispose() {
      clearTimeout(timer);
      callerSignal?.removeEventListener("abort", onCallerAbort);
    },
  };
}
