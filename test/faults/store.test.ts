/**
 * The Redis store under faults, on a redis-server of the test's own: killed, hung, back again. No call waits longer
 * than the store's bound, every failure is a `StoreUnavailable` that says why, and the same store works again (and
 * its subscriptions deliver again) once Redis is back, without being recreated.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { StoreUnavailable } from "../../core/errors.ts";
import { createStore, type Store } from "../../core/store/index.ts";
import { privateRedis, redisServerProgram, type PrivateRedis } from "./support.ts";

const program = redisServerProgram();

/** Runs `call` and returns how long it took and what it threw (or null when it did not). */
async function timed(call: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now();
  try {
    await call();
    return { ms: performance.now() - started, error: null };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

/** Every operation of the store, each with arguments that would succeed against a healthy Redis. */
const operations = (store: Store): [string, () => Promise<unknown>][] => [
  ["get", () => store.get("k")],
  ["set", () => store.set("k", { v: 1 })],
  ["delete", () => store.delete("k")],
  ["compareAndSet", () => store.compareAndSet("k", null, 1)],
  ["increment", () => store.increment("n")],
  ["ttl", () => store.ttl("k")],
  ["expire", () => store.expire("k", 1000)],
  ["scan", () => store.scan("")],
  ["publish", () => store.publish("c", "m")],
  ["subscribe", () => store.subscribe("other", () => undefined)],
  ["ping", () => store.ping()],
];

async function eventually(what: string, ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (!(await check().catch(() => false))) {
    if (performance.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await Bun.sleep(10);
  }
  return performance.now() - started;
}

describe.skipIf(!program)("Redis store under faults", () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await privateRedis(program!);
  });
  afterAll(async () => {
    await redis?.close();
  });

  test("Redis killed: every call fails at once with StoreUnavailable naming Redis; back again, calls and subscriptions work", async () => {
    const timeoutMs = 800;
    const store = (await createStore({ type: "redis", url: redis.url, keyPrefix: "killed:", timeoutMs })).namespace("ns:");
    const received: unknown[] = [];
    await store.subscribe("events", (message) => received.push(message));
    await store.publish("events", "before");
    await eventually("the message before the outage", 2000, async () => received.includes("before"));

    await redis.kill();
    // For two seconds, through the reconnect attempts: nothing waits, nothing hangs.
    const until = performance.now() + 2000;
    let calls = 0;
    while (performance.now() < until) {
      for (const [name, call] of operations(store)) {
        const { ms, error } = await timed(call);
        calls++;
        expect({ name, unavailable: error instanceof StoreUnavailable }).toEqual({ name, unavailable: true });
        expect((error as Error).message).toStartWith(`store unavailable: Redis at redis://127.0.0.1:${redis.port}`);
        expect(ms).toBeLessThan(timeoutMs + 200);
      }
      await Bun.sleep(50);
    }
    expect(calls).toBeGreaterThan(50);

    await redis.start();
    // The store reconnects by itself, at most a second apart.
    const recovered = await eventually("the store answering again", 3000, async () => (await store.set("k", 1)) && (await store.get("k")) === 1);
    expect(recovered).toBeLessThan(2500);
    // The subscription made before the outage delivers again (renewed on reconnect).
    const publisher = redis.client();
    await eventually("the subscription renewed", 3000, async () => {
      await publisher.publish("killed:ns:events", JSON.stringify("after"));
      await Bun.sleep(20);
      return received.includes("after");
    });
    await store.close();
  }, 30_000);

  test("Redis hung (SIGSTOP): a call fails after store.timeout_ms, saying so; resumed, the store answers again", async () => {
    const timeoutMs = 400;
    const store = await createStore({ type: "redis", url: redis.url, keyPrefix: "hung:", timeoutMs });
    await store.set("untouched", "v");
    redis.pause();
    try {
      for (const [name, call] of operations(store).filter(([name]) => name !== "subscribe")) {
        const { ms, error } = await timed(call);
        expect({ name, unavailable: error instanceof StoreUnavailable }).toEqual({ name, unavailable: true });
        expect((error as Error).message).toBe(`store unavailable: Redis at redis://127.0.0.1:${redis.port} did not answer within ${timeoutMs} ms (store.timeout_ms)`);
        expect(ms).toBeGreaterThanOrEqual(timeoutMs - 5);
        expect(ms).toBeLessThan(timeoutMs + 400);
      }
    } finally {
      redis.resume();
    }
    // (The writes that timed out may still happen now: Redis had them. What a caller saw fail is not sent again.)
    await eventually("the store answering again", 2000, async () => (await store.get("untouched")) === "v");
    await store.close();
  }, 30_000);

  test("replies that are not about availability pass unchanged", async () => {
    const store = await createStore({ type: "redis", url: redis.url, keyPrefix: "reply:", timeoutMs: 500 });
    await store.set("text", "not a number");
    const failure = await store.increment("text").catch((error) => error);
    expect(failure).toBeInstanceOf(TypeError);
    expect(failure).not.toBeInstanceOf(StoreUnavailable);
    await store.close();
  });
});
