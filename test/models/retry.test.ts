import { describe, expect, test } from "bun:test";
import { createDeadline } from "../../plugins/protocol/model-http/deadline.ts";
import { backoffMs, ConnectionFailure, fetchWithRetry, retryAfterMs, type RetryPolicy } from "../../plugins/protocol/model-http/retry.ts";

const policy: RetryPolicy = { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 1_000 };

function scripted(outcomes: (number | Error | Response)[]) {
  let calls = 0;
  const send = async () => {
    const next = outcomes[Math.min(calls++, outcomes.length - 1)];
    if (next instanceof Error) throw next;
    return next instanceof Response ? next : new Response(`status ${next}`, { status: next });
  };
  return { send, calls: () => calls };
}

function recordingSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

const signal = new AbortController().signal;

describe("fetchWithRetry", () => {
  test("retries 429 and 5xx, then returns the success", async () => {
    const upstream = scripted([429, 503, 200]);
    const { waits, sleep } = recordingSleep();
    const { response, attempts } = await fetchWithRetry(upstream.send, policy, { signal, sleep, random: () => 0 });
    expect(response.status).toBe(200);
    expect(attempts).toBe(3);
    expect(waits).toEqual([50, 100]);
  });

  test("never retries other 4xx", async () => {
    for (const status of [400, 401, 403, 404, 408, 422]) {
      const upstream = scripted([status, 200]);
      const { response, attempts } = await fetchWithRetry(upstream.send, policy, { signal, sleep: async () => {} });
      expect([response.status, attempts]).toEqual([status, 1]);
    }
  });

  test("stops after maxRetries and hands back the last error response", async () => {
    const upstream = scripted([500]);
    const { response, attempts } = await fetchWithRetry(upstream.send, policy, { signal, sleep: async () => {} });
    expect([response.status, attempts, upstream.calls()]).toEqual([500, 4, 4]);
  });

  test("honours Retry-After in seconds and retry-after-ms", async () => {
    const upstream = scripted([
      new Response("", { status: 429, headers: { "retry-after": "0.3" } }),
      new Response("", { status: 429, headers: { "retry-after-ms": "250" } }),
      200,
    ]);
    const { waits, sleep } = recordingSleep();
    await fetchWithRetry(upstream.send, policy, { signal, sleep });
    expect(waits).toEqual([300, 250]);
  });

  test("a Retry-After beyond maxDelayMs ends the retries instead of hammering", async () => {
    const upstream = scripted([new Response("", { status: 429, headers: { "retry-after": "60" } }), 200]);
    const { response, attempts } = await fetchWithRetry(upstream.send, policy, { signal, sleep: async () => {} });
    expect([response.status, attempts]).toEqual([429, 1]);
  });

  test("a wait that does not fit the remaining deadline ends the retries", async () => {
    const upstream = scripted([503, 200]);
    const { response } = await fetchWithRetry(upstream.send, policy, { signal, sleep: async () => {}, remainingMs: () => 10 });
    expect(response.status).toBe(503);
  });

  test("retries network errors and reports a ConnectionFailure with the attempt count", async () => {
    const upstream = scripted([new TypeError("ECONNREFUSED")]);
    const error = await fetchWithRetry(upstream.send, policy, { signal, sleep: async () => {} }).catch((e) => e);
    expect(error).toBeInstanceOf(ConnectionFailure);
    expect(error.attempts).toBe(4);
  });

  test("does not retry errors that are not network failures (a refused permission)", async () => {
    const denied = new Error("PermissionDenied: net:example.com");
    const upstream = scripted([denied, 200]);
    await expect(fetchWithRetry(upstream.send, policy, { signal, sleep: async () => {} })).rejects.toBe(denied);
    expect(upstream.calls()).toBe(1);
  });

  test("an abort during the backoff wait ends at once", async () => {
    const deadline = createDeadline(undefined, 50);
    const upstream = scripted([503]);
    const started = Date.now();
    const error = await fetchWithRetry(upstream.send, { ...policy, baseDelayMs: 10_000, maxDelayMs: 10_000 }, { signal: deadline.signal }).catch(
      (e) => e,
    );
    deadline.dispose();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error.name).toBe("TimeoutError");
  });
});

describe("backoff and Retry-After parsing", () => {
  test("backoff doubles, is capped, and jitters within the upper half", () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, policy, () => 1))).toEqual([100, 200, 400, 800, 1_000]);
    expect([1, 2, 3].map((n) => backoffMs(n, policy, () => 0))).toEqual([50, 100, 200]);
  });

  test("Retry-After as an HTTP date, garbage, or negative", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(retryAfterMs(new Headers({ "retry-after": "Wed, 01 Jan 2025 00:00:02 GMT" }), now)).toBe(2_000);
    expect(retryAfterMs(new Headers({ "retry-after": "soon" }), now)).toBeUndefined();
    expect(retryAfterMs(new Headers({ "retry-after": "-1" }), now)).toBeUndefined();
    expect(retryAfterMs(new Headers(), now)).toBeUndefined();
  });
});

describe("createDeadline", () => {
  test("says timeout when the timer fires", async () => {
    const deadline = createDeadline(undefined, 20);
    await Bun.sleep(40);
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.abortCause()).toBe("timeout");
    expect(deadline.remainingMs()).toBe(0);
  });

  test("says caller when the caller's signal fires, also if it already had", () => {
    const caller = new AbortController();
    const deadline = createDeadline(caller.signal, 10_000);
    caller.abort();
    expect(deadline.abortCause()).toBe("caller");
    deadline.dispose();
    expect(createDeadline(AbortSignal.abort(), 10_000).abortCause()).toBe("caller");
  });

  test("dispose stops the timer and detaches from the caller", async () => {
    const caller = new AbortController();
    const deadline = createDeadline(caller.signal, 20);
    deadline.dispose();
    await Bun.sleep(40);
    caller.abort();
    expect(deadline.signal.aborted).toBe(false);
  });
});
