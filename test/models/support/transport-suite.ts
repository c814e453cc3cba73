/**
 * The failure behaviour every HTTP model client shares (retries, deadlines, aborts, cut streams, key
 * hygiene), run against a loopback upstream speaking the vendor's wire format.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { ModelError, type ModelClient } from "../../../core/kinds/model.ts";
import { collect, failure, refusedPort, SECRET_KEY, serveCutStream, serveLoopback, textOf, type Loopback } from "./loopback.ts";

export interface VendorAdapter {
  /** A client for `base` with SECRET_KEY, fast retries, and `overrides` on top. */
  client(base: string, overrides?: Record<string, unknown>, log?: (msg: string, fields?: Record<string, unknown>) => void): ModelClient;
  /** A complete successful answer whose text is `okText`. */
  ok(opts?: { firstDelayMs?: number; delayMs?: number }): Response;
  okText: string;
  /** The vendor's JSON error body. */
  error(status: number, message: string, headers?: Record<string, string>): Response;
  /** Raw body pieces of a stream that is about to be cut (some text already sent). */
  cutPieces: string[];
  contentType: string;
}

const hello = [{ role: "user" as const, content: "hi" }];

export function describeTransport(vendor: string, adapter: VendorAdapter): void {
  describe(`${vendor}: transport`, () => {
    let upstream: Loopback | undefined;
    afterEach(() => upstream?.stop());

    test("400 is not retried and carries the upstream status and message", async () => {
      upstream = serveLoopback(() => adapter.error(400, "bad temperature value"));
      const error = await failure(adapter.client(upstream.base).chat(hello));
      expect(error).toBeInstanceOf(ModelError);
      expect(error.status).toBe(400);
      expect(error.retryable).toBe(false);
      expect(error.message).toContain("bad temperature value");
      expect(error.message).toContain(upstream.host);
      expect(upstream.received.length).toBe(1);
    });

    test("429 then 200 is retried after Retry-After and succeeds", async () => {
      upstream = serveLoopback((_, attempt) => (attempt === 1 ? adapter.error(429, "slow down", { "retry-after": "0.2" }) : adapter.ok()));
      const retries: unknown[] = [];
      const started = Date.now();
      const events = await collect(adapter.client(upstream.base, {}, (_msg, fields) => retries.push(fields)).chat(hello));
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
      expect(textOf(events)).toBe(adapter.okText);
      expect(upstream.received.length).toBe(2);
      expect(retries).toEqual([expect.objectContaining({ attempt: 1, status: 429, delayMs: 200 })]);
    });

    test("500 then 200 is retried and succeeds", async () => {
      upstream = serveLoopback((_, attempt) => (attempt === 1 ? adapter.error(500, "internal") : adapter.ok()));
      const events = await collect(adapter.client(upstream.base).chat(hello));
      expect(textOf(events)).toBe(adapter.okText);
      expect(events.at(-1)?.type).toBe("finish");
      expect(upstream.received.length).toBe(2);
    });

    test("503 on every attempt ends in a ModelError after the bounded retries", async () => {
      upstream = serveLoopback(() => adapter.error(503, "overloaded"));
      const error = await failure(adapter.client(upstream.base, { max_retries: 2 }).chat(hello));
      expect(error).toBeInstanceOf(ModelError);
      expect([error.status, error.retryable]).toEqual([503, true]);
      expect(error.message).toContain("overloaded");
      expect(error.message).toContain("after 3 attempts");
      expect(upstream.received.length).toBe(3);
    });

    test("a stream cut mid-way is a ModelError after the text already sent, and is not retried", async () => {
      const cut = serveCutStream(adapter.cutPieces, adapter.contentType);
      try {
        const seen: string[] = [];
        const run = async () => {
          for await (const event of adapter.client(cut.base).chat(hello)) if (event.type === "text") seen.push(event.text);
        };
        const error = await run().then(
          () => undefined,
          (e) => e,
        );
        expect(error).toBeInstanceOf(ModelError);
        expect(error.message).toContain("broke off");
        expect(error.message).toContain(cut.host);
        expect(seen.length).toBeGreaterThan(0);
      } finally {
        cut.stop();
      }
    });

    test("a slow first token hits the deadline with a timeout error", async () => {
      upstream = serveLoopback(() => adapter.ok({ firstDelayMs: 3_000 }));
      const started = Date.now();
      const error = await failure(adapter.client(upstream.base, { timeout_ms: 200 }).chat(hello));
      expect(Date.now() - started).toBeLessThan(1_500);
      expect(error).toBeInstanceOf(ModelError);
      expect(error.message).toContain("timed out after 200 ms");
      expect(error.message).toContain(upstream.host);
    });

    test("ChatOptions.timeoutMs overrides the configured deadline, also while waiting for headers", async () => {
      upstream = serveLoopback(async () => {
        await Bun.sleep(2_000);
        return adapter.ok();
      });
      const started = Date.now();
      const error = await failure(adapter.client(upstream.base).chat(hello, { timeoutMs: 150 }));
      expect(Date.now() - started).toBeLessThan(1_500);
      expect(error.message).toContain("timed out after 150 ms");
    });

    test("the caller's AbortSignal ends the stream promptly with an AbortError", async () => {
      upstream = serveLoopback(() => adapter.ok({ firstDelayMs: 3_000 }));
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const started = Date.now();
      const error = await failure(adapter.client(upstream.base).chat(hello, { signal: controller.signal }));
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(error.name).toBe("AbortError");
      expect(error).not.toBeInstanceOf(ModelError);
    });

    test("connection refused is retried, then a ModelError names the host", async () => {
      const port = refusedPort();
      const retries: unknown[] = [];
      const client = adapter.client(`http://127.0.0.1:${port}`, { max_retries: 2 }, (_msg, fields) => retries.push(fields));
      const error = await failure(client.chat(hello));
      expect(error).toBeInstanceOf(ModelError);
      expect(error.message).toContain(`127.0.0.1:${port}`);
      expect(error.message).toContain("after 3 attempts");
      expect(error.retryable).toBe(true);
      expect(retries.length).toBe(2);
      expect(error.message).not.toContain(SECRET_KEY);
    });

    test("the API key never appears in an error, even when the upstream echoes it", async () => {
      upstream = serveLoopback(() => adapter.error(401, `Incorrect API key provided: ${SECRET_KEY}.`));
      const error = await failure(adapter.client(upstream.base).chat(hello));
      expect(error.status).toBe(401);
      expect(error.message).not.toContain(SECRET_KEY);
      expect(error.message).toContain("Incorrect API key provided: ***");
    });

    test("a consumer that stops early closes the upstream stream", async () => {
      let cancelled = false;
      upstream = serveLoopback(() => {
        const response = adapter.ok({ delayMs: 50 });
        const body = response.body!;
        const reader = body.getReader();
        const tracked = new ReadableStream<Uint8Array>({
          async pull(controller) {
            const { done, value } = await reader.read();
            if (done) controller.close();
            else controller.enqueue(value);
          },
          cancel() {
            cancelled = true;
            return reader.cancel();
          },
        });
        return new Response(tracked, { headers: response.headers });
      });
      for await (const event of adapter.client(upstream.base).chat(hello)) if (event.type === "text") break;
      await Bun.sleep(150);
      expect(cancelled).toBe(true);
    });
  });
}
