/**
 * One suite of store semantics, run against `MemoryStore` and against `RedisStore` on the test Redis.
 * Every test gets a fresh store; the Redis ones live under a key prefix unique to this run and are deleted afterwards.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import type { HandlerErrorReporter } from "../core/store/channel-handlers.ts";
import { createStore } from "../core/store/index.ts";
import { MemoryStore } from "../core/store/memory.ts";
import { RedisStore, prefixPattern } from "../core/store/redis.ts";
import { redactRedisUrl } from "../core/store/redis-connection.ts";
import type { Store } from "../core/store/store.ts";
import { available, redisUrl } from "./support/env.ts";

interface StoreHarness {
  /** A fresh store that shares no keys or channels with any other test. */
  create(options?: { onHandlerError?: HandlerErrorReporter }): Store;
  /** Removes whatever the run left behind. */
  cleanup(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Adds `by` through a compareAndSet retry loop; returns how many swaps failed on the way. */
async function addByCas(store: Store, key: string, by: number): Promise<number> {
  for (let failures = 0; ; failures++) {
    const current = await store.get<number>(key);
    if (await store.compareAndSet(key, current, (current ?? 0) + by)) return failures;
  }
}

function describeStore(name: string, harness: StoreHarness) {
  describe(name, () => {
    const opened: Store[] = [];
    const fresh = (options?: { onHandlerError?: HandlerErrorReporter }) => {
      const store = harness.create(options);
      opened.push(store);
      return store;
    };

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()));
    });
    afterAll(() => harness.cleanup());

    describe("get / set / delete", () => {
      test("round-trips JSON values and returns a fresh parse each time", async () => {
        const store = fresh();
        const value = { name: "sandbox", ports: [8080, 8081], nested: { ok: true, none: null }, text: "ünïcødé" };
        expect(await store.set("a", value)).toBe(true);
        const first = await store.get<typeof value>("a");
        expect(first).toEqual(value);
        first!.ports.push(1);
        expect(await store.get("a")).toEqual(value);
        expect(await store.get("a")).not.toBe(await store.get("a"));
        for (const scalar of [0, -12.5, "", "text", false, true, [] as unknown[]]) {
          await store.set("s", scalar);
          expect(await store.get("s")).toEqual(scalar);
        }
      });

      test("get of an absent key is null", async () => {
        expect(await fresh().get("missing")).toBeNull();
      });

      test("set overwrites, and drops undefined object fields as JSON does", async () => {
        const store = fresh();
        await store.set("a", 1);
        await store.set("a", { kept: 1, dropped: undefined });
        expect(await store.get("a")).toEqual({ kept: 1 });
      });

      test("ifAbsent sets only a missing key", async () => {
        const store = fresh();
        expect(await store.set("a", "first", { ifAbsent: true })).toBe(true);
        expect(await store.set("a", "second", { ifAbsent: true })).toBe(false);
        expect(await store.get("a")).toBe("first");
      });

      test("delete reports whether the key existed", async () => {
        const store = fresh();
        await store.set("a", 1);
        expect(await store.delete("a")).toBe(true);
        expect(await store.delete("a")).toBe(false);
        expect(await store.get("a")).toBeNull();
      });
    });

    describe("TTL", () => {
      test("a key with ttlMs disappears everywhere once expired", async () => {
        const store = fresh();
        await store.set("short", "v", { ttlMs: 60 });
        await store.set("long", "v");
        const remaining = await store.ttl("short");
        expect(remaining).toBeGreaterThan(0);
        expect(remaining).toBeLessThanOrEqual(60);
        await sleep(120);
        expect(await store.get("short")).toBeNull();
        expect(await store.ttl("short")).toBeNull();
        expect(await store.delete("short")).toBe(false);
        expect(await store.expire("short", 1000)).toBe(false);
        expect((await store.scan("")).map((e) => e.key)).toEqual(["long"]);
      });

      test("ifAbsent succeeds over an expired key", async () => {
        const store = fresh();
        await store.set("a", "old", { ttlMs: 50 });
        await sleep(100);
        expect(await store.set("a", "new", { ifAbsent: true })).toBe(true);
        expect(await store.get("a")).toBe("new");
      });

      test("set without ttlMs clears an earlier TTL", async () => {
        const store = fresh();
        await store.set("a", 1, { ttlMs: 10_000 });
        await store.set("a", 2);
        expect(await store.ttl("a")).toBeNull();
      });

      test("ttl is null for absent keys and keys without TTL", async () => {
        const store = fresh();
        await store.set("a", 1);
        expect(await store.ttl("a")).toBeNull();
        expect(await store.ttl("missing")).toBeNull();
      });

      test("expire sets and clears a TTL, false for absent keys", async () => {
        const store = fresh();
        await store.set("a", 1);
        expect(await store.expire("a", 5000)).toBe(true);
        expect(await store.ttl("a")).toBeGreaterThan(4000);
        expect(await store.expire("a", null)).toBe(true);
        expect(await store.ttl("a")).toBeNull();
        expect(await store.expire("a", null)).toBe(true);
        expect(await store.expire("missing", null)).toBe(false);
        expect(await store.expire("missing", 100)).toBe(false);
        expect(await store.expire("a", 50)).toBe(true);
        await sleep(100);
        expect(await store.get("a")).toBeNull();
      });

      test("invalid TTLs are refused before anything changes", async () => {
        const store = fresh();
        await store.set("a", 1);
        for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
          await expect(store.set("a", 2, { ttlMs: bad })).rejects.toThrow(RangeError);
          await expect(store.expire("a", bad)).rejects.toThrow(/ttlMs must be a positive/);
          await expect(store.compareAndSet("a", 1, 2, { ttlMs: bad })).rejects.toThrow(RangeError);
        }
        expect(await store.get("a")).toBe(1);
        expect(await store.ttl("a")).toBeNull();
      });
    });

    describe("compareAndSet", () => {
      test("expected null creates only an absent key", async () => {
        const store = fresh();
        expect(await store.compareAndSet("a", null, { v: 1 })).toBe(true);
        expect(await store.get("a")).toEqual({ v: 1 });
        expect(await store.compareAndSet("a", null, { v: 2 })).toBe(false);
        expect(await store.get("a")).toEqual({ v: 1 });
      });

      test("swaps only when the current value equals expected", async () => {
        const store = fresh();
        await store.set("a", { state: "pending", n: 1 });
        expect(await store.compareAndSet("a", { state: "running", n: 1 }, { state: "done", n: 2 })).toBe(false);
        expect(await store.get("a")).toEqual({ state: "pending", n: 1 });
        const read = await store.get("a");
        expect(await store.compareAndSet("a", read, { state: "running", n: 2 })).toBe(true);
        expect(await store.get("a")).toEqual({ state: "running", n: 2 });
        expect(await store.compareAndSet("missing", 1, 2)).toBe(false);
        expect(await store.get("missing")).toBeNull();
      });

      test("next null deletes the key", async () => {
        const store = fresh();
        await store.set("a", "x");
        expect(await store.compareAndSet("a", "y", null)).toBe(false);
        expect(await store.compareAndSet("a", "x", null)).toBe(true);
        expect(await store.get("a")).toBeNull();
        expect(await store.compareAndSet("a", null, null)).toBe(true);
        expect(await store.get("a")).toBeNull();
      });

      test("keeps the old TTL unless ttlMs is given", async () => {
        const store = fresh();
        await store.set("a", 1, { ttlMs: 5000 });
        expect(await store.compareAndSet("a", 1, 2)).toBe(true);
        expect(await store.ttl("a")).toBeGreaterThan(4000);
        expect(await store.compareAndSet("a", 2, 3, { ttlMs: 60 })).toBe(true);
        expect(await store.ttl("a")).toBeLessThanOrEqual(60);
        await sleep(120);
        expect(await store.get("a")).toBeNull();
        expect(await store.compareAndSet("b", null, 1)).toBe(true);
        expect(await store.ttl("b")).toBeNull();
      });

      test("20 concurrent CAS retry loops add up to exactly 20", async () => {
        const store = fresh();
        const failures = await Promise.all(Array.from({ length: 20 }, () => addByCas(store, "counter", 1)));
        expect(await store.get("counter")).toBe(20);
        expect(failures.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      });
    });

    describe("increment", () => {
      test("adds to an integer, treating absent as 0", async () => {
        const store = fresh();
        expect(await store.increment("n")).toBe(1);
        expect(await store.increment("n", 41)).toBe(42);
        expect(await store.increment("n", -50)).toBe(-8);
        expect(await store.get("n")).toBe(-8);
        await store.set("m", 10);
        expect(await store.increment("m", 5)).toBe(15);
      });

      test("keeps the key's TTL", async () => {
        const store = fresh();
        await store.set("n", 1, { ttlMs: 5000 });
        await store.increment("n");
        expect(await store.ttl("n")).toBeGreaterThan(4000);
      });

      test("20 concurrent increments add up to exactly 20", async () => {
        const store = fresh();
        await Promise.all(Array.from({ length: 20 }, () => store.increment("n")));
        expect(await store.get("n")).toBe(20);
      });

      test("a non-integer value is an error and stays unchanged", async () => {
        const store = fresh();
        for (const value of ["5", "text", 1.5, { n: 1 }, [1], true, 2 ** 60]) {
          await store.set("v", value);
          await expect(store.increment("v")).rejects.toThrow(/key 'v': cannot increment, the stored value is not an integer/);
          expect(await store.get("v")).toEqual(value);
        }
      });

      test("float steps and results beyond the safe integer range are refused", async () => {
        const store = fresh();
        await expect(store.increment("n", 0.5)).rejects.toThrow(RangeError);
        await store.set("big", Number.MAX_SAFE_INTEGER - 1);
        expect(await store.increment("big")).toBe(Number.MAX_SAFE_INTEGER);
        await expect(store.increment("big")).rejects.toThrow(/safe integer range/);
        expect(await store.get("big")).toBe(Number.MAX_SAFE_INTEGER);
      });
    });

    describe("scan", () => {
      test("returns live entries under the prefix, sorted by key", async () => {
        const store = fresh();
        await store.set("job:b", 2);
        await store.set("job:a", 1);
        await store.set("job:c", 3, { ttlMs: 30 });
        await store.set("jobs", "not under job:");
        await store.set("other", 0);
        await sleep(80);
        expect(await store.scan("job:")).toEqual([
          { key: "job:a", value: 1 },
          { key: "job:b", value: 2 },
        ]);
        expect((await store.scan("")).map((e) => e.key)).toEqual(["job:a", "job:b", "jobs", "other"]);
        expect(await store.scan("nothing")).toEqual([]);
      });

      test("treats glob metacharacters in the prefix literally", async () => {
        const store = fresh();
        const keys = ["a*[x]?\\1", "a*[x]?\\2", "a*b", "ab", "a[x]", "ax]?\\", "a*[y]?\\1", "a*[x]x\\1"];
        for (const key of keys) await store.set(key, key);
        expect((await store.scan("a*[x]?\\")).map((e) => e.key)).toEqual(["a*[x]?\\1", "a*[x]?\\2"]);
        expect((await store.scan("a*")).map((e) => e.key)).toEqual(["a*[x]?\\1", "a*[x]?\\2", "a*[x]x\\1", "a*[y]?\\1", "a*b"]);
        expect((await store.scan("a[")).map((e) => e.value)).toEqual(["a[x]"]);
      });

      test("handles more keys than one SCAN / MGET batch", async () => {
        const store = fresh();
        const keys = Array.from({ length: 1234 }, (_, i) => `many:${String(i).padStart(4, "0")}`);
        await Promise.all(keys.map((key, i) => store.set(key, i)));
        const entries = await store.scan("many:");
        expect(entries.length).toBe(1234);
        expect(entries.map((e) => e.key)).toEqual(keys);
        expect(entries[1233].value).toBe(1233);
      });
    });

    describe("publish / subscribe", () => {
      test("delivers parsed messages in order, a fresh copy per handler", async () => {
        const store = fresh();
        const first: unknown[] = [];
        const second: unknown[] = [];
        await store.subscribe("events", (m) => first.push(m));
        await store.subscribe("events", (m) => second.push(m));
        expect(await store.publish("events", { n: 1 })).toBe(1);
        await store.publish("events", "two");
        await store.publish("events", null);
        await store.publish("elsewhere", "ignored");
        await waitFor(() => first.length === 3 && second.length === 3, "3 messages to each handler");
        expect(first).toEqual([{ n: 1 }, "two", null]);
        expect(second).toEqual(first);
        expect(first[0]).not.toBe(second[0]);
      });

      test("publish counts the store once however many handlers it has, as Redis counts connections", async () => {
        const store = fresh();
        expect(await store.publish("nobody", 1)).toBe(0);
        const unsubscribe = await store.subscribe("one", () => {});
        expect(await store.publish("one", 1)).toBe(1);
        await unsubscribe();
        expect(await store.publish("one", 1)).toBe(0);
      });

      test("unsubscribe stops delivery to that handler only, and is idempotent", async () => {
        const store = fresh();
        const kept: unknown[] = [];
        const dropped: unknown[] = [];
        await store.subscribe("ch", (m) => kept.push(m));
        const unsubscribe = await store.subscribe("ch", (m) => dropped.push(m));
        await store.publish("ch", 1);
        await waitFor(() => kept.length === 1 && dropped.length === 1, "first message");
        await unsubscribe();
        await unsubscribe();
        await store.publish("ch", 2);
        await waitFor(() => kept.length === 2, "second message");
        expect(dropped).toEqual([1]);
      });

      test("the same function subscribed twice is removed once per unsubscribe", async () => {
        const store = fresh();
        const seen: unknown[] = [];
        const handler = (m: unknown) => seen.push(m);
        const unsubscribeFirst = await store.subscribe("ch", handler);
        await store.subscribe("ch", handler);
        await unsubscribeFirst();
        await store.publish("ch", "x");
        await waitFor(() => seen.length === 1, "delivery to the remaining subscription");
      });

      test("a throwing handler does not break the others", async () => {
        const reported: { channel: string; error: unknown }[] = [];
        const store = fresh({ onHandlerError: (channel, error) => reported.push({ channel, error }) });
        const received: unknown[] = [];
        await store.subscribe("ch", () => {
          throw new Error("handler bug");
        });
        await store.subscribe("ch", async () => {
          throw new Error("async handler bug");
        });
        await store.subscribe("ch", (m) => received.push(m));
        await store.publish("ch", "a");
        await store.publish("ch", "b");
        await waitFor(() => received.length === 2 && reported.length === 4, "both messages and 4 reports");
        expect(received).toEqual(["a", "b"]);
        expect(reported.map((r) => (r.error as Error).message).sort()).toEqual([
          "async handler bug",
          "async handler bug",
          "handler bug",
          "handler bug",
        ]);
      });

      test("a re-subscribed channel delivers again", async () => {
        const store = fresh();
        const seen: unknown[] = [];
        const unsubscribe = await store.subscribe("ch", (m) => seen.push(m));
        await unsubscribe();
        await store.subscribe("ch", (m) => seen.push(m));
        await store.publish("ch", "again");
        await waitFor(() => seen.length === 1, "delivery after re-subscribing");
      });
    });

    describe("namespace", () => {
      test("prefixes keys, strips the prefix in scans and composes when nested", async () => {
        const store = fresh();
        const app = store.namespace("app:");
        const nested = app.namespace("jobs:");
        await app.set("k", "in app");
        await nested.set("1", "job one");
        await store.set("k", "in root");
        expect(await store.get("app:k")).toBe("in app");
        expect(await store.get("app:jobs:1")).toBe("job one");
        expect(await app.get("k")).toBe("in app");
        expect(await app.scan("")).toEqual([
          { key: "jobs:1", value: "job one" },
          { key: "k", value: "in app" },
        ]);
        expect(await nested.scan("")).toEqual([{ key: "1", value: "job one" }]);
        expect(await store.namespace("other:").get("k")).toBeNull();
      });

      test("every operation goes through the prefix", async () => {
        const store = fresh();
        const ns = store.namespace("ns:");
        expect(await ns.set("a", 1, { ttlMs: 5000 })).toBe(true);
        expect(await ns.set("a", 2, { ifAbsent: true })).toBe(false);
        expect(await ns.ttl("a")).toBeGreaterThan(4000);
        expect(await ns.expire("a", null)).toBe(true);
        expect(await store.ttl("ns:a")).toBeNull();
        expect(await ns.compareAndSet("a", 1, 5)).toBe(true);
        expect(await ns.increment("a", 2)).toBe(7);
        expect(await store.get("ns:a")).toBe(7);
        expect(await store.get("a")).toBeNull();
        expect(await ns.delete("a")).toBe(true);
        expect(await store.get("ns:a")).toBeNull();
      });

      test("prefixes channels", async () => {
        const store = fresh();
        const ns = store.namespace("ns:");
        const inView: unknown[] = [];
        const inRoot: unknown[] = [];
        await ns.subscribe("ch", (m) => inView.push(m));
        await store.subscribe("ch", (m) => inRoot.push(m));
        await store.publish("ns:ch", "from root");
        await ns.publish("ch", "from view");
        await store.publish("ch", "root only");
        await waitFor(() => inView.length === 2 && inRoot.length === 1, "deliveries");
        expect(inView).toEqual(["from root", "from view"]);
        expect(inRoot).toEqual(["root only"]);
      });

      test("closing a view ends its subscriptions but not the store", async () => {
        const store = fresh();
        const view = store.namespace("v:");
        const viewSeen: unknown[] = [];
        const rootSeen: unknown[] = [];
        await view.namespace("deep:").subscribe("ch", (m) => viewSeen.push(m));
        await store.subscribe("v:deep:ch", (m) => rootSeen.push(m));
        await view.close();
        await view.close();
        await expect(view.get("x")).rejects.toThrow("store is closed");
        await store.publish("v:deep:ch", "after close");
        await waitFor(() => rootSeen.length === 1, "delivery to the root subscriber");
        expect(viewSeen).toEqual([]);
        await store.set("still", "open");
        expect(await store.get("still")).toBe("open");
      });
    });

    describe("errors", () => {
      test("values that are not JSON are refused with a TypeError naming the key", async () => {
        const store = fresh();
        const bad: unknown[] = [undefined, () => 1, 10n, Symbol("s"), Number.NaN, { nested: { fn: () => 1 } }, [1n]];
        for (const value of bad) {
          await expect(store.set("the-key", value)).rejects.toThrow(TypeError);
          await expect(store.set("the-key", value)).rejects.toThrow(/the-key/);
          await expect(store.compareAndSet("the-key", null, value)).rejects.toThrow(/the-key.*not JSON-serializable/);
        }
        await expect(store.compareAndSet("the-key", undefined, 1)).rejects.toThrow(TypeError);
        await expect(store.publish("the-channel", 5n)).rejects.toThrow(/the-channel/);
        expect(await store.get("the-key")).toBeNull();
      });

      test("null cannot be stored with set (it would look absent)", async () => {
        const store = fresh();
        await expect(store.set("k", null)).rejects.toThrow(/use delete/);
        expect(await store.scan("")).toEqual([]);
      });
    });

    describe("close", () => {
      test("is idempotent and refuses later use", async () => {
        const store = fresh();
        await store.set("a", 1);
        await store.subscribe("ch", () => {});
        await store.close();
        await store.close();
        await expect(store.get("a")).rejects.toThrow("store is closed");
        await expect(store.set("a", 1)).rejects.toThrow("store is closed");
        await expect(store.subscribe("ch", () => {})).rejects.toThrow("store is closed");
      });
    });
  });
}

describeStore("MemoryStore", {
  create: (options) => new MemoryStore({ sweepIntervalMs: 20, ...options }),
  cleanup: async () => {},
});

const url = redisUrl();

describe.skipIf(!available("redis", url))("Redis", () => {
  const runPrefix = `rock-test:store:${process.pid}:${Date.now().toString(36)}:`;
  let nextStore = 0;

  /** Deletes every key of this run through a plain client (some tests leave non-JSON text behind). */
  async function deleteRunKeys(): Promise<number> {
    const client = new Redis(url!);
    try {
      let deleted = 0;
      let cursor = "0";
      do {
        const [next, keys] = await client.scan(cursor, "MATCH", prefixPattern(runPrefix), "COUNT", 500);
        if (keys.length > 0) deleted += await client.del(...keys);
        cursor = next;
      } while (cursor !== "0");
      return deleted;
    } finally {
      await client.quit();
    }
  }

  describeStore("RedisStore", {
    create: (options) => new RedisStore(url!, { keyPrefix: `${runPrefix}${nextStore++}:`, ...options }),
    cleanup: async () => {
      await deleteRunKeys();
      expect(await deleteRunKeys()).toBe(0);
    },
  });

  describe("RedisStore specifics", () => {
    const prefix = `${runPrefix}specific:`;
    afterAll(() => deleteRunKeys());

    test("CAS retry loops on separate connections add up to exactly 20", async () => {
      const stores = [new RedisStore(url!, { keyPrefix: prefix }), new RedisStore(url!, { keyPrefix: prefix })];
      try {
        await Promise.all(Array.from({ length: 20 }, (_, i) => addByCas(stores[i % 2], "shared", 1)));
        expect(await stores[0].get("shared")).toBe(20);
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
    });

    test("values are stored as plain JSON text under the key prefix", async () => {
      const client = new Redis(url!);
      const store = new RedisStore(client, { keyPrefix: prefix });
      try {
        await store.set("plain", { a: [1, "two"] }, { ttlMs: 5000 });
        expect(await client.get(`${prefix}plain`)).toBe('{"a":[1,"two"]}');
        expect(await client.pttl(`${prefix}plain`)).toBeGreaterThan(4000);
        await client.set(`${prefix}garbage`, "{not json");
        await expect(store.get("garbage")).rejects.toThrow(/key 'garbage' holds text that is not JSON/);
      } finally {
        await store.close();
        expect(client.status).toBe("ready");
        await client.quit();
      }
    });

    test("a client with an ioredis keyPrefix is refused", () => {
      const client = new Redis(url!, { keyPrefix: "x:", lazyConnect: true });
      expect(() => new RedisStore(client)).toThrow(/keyPrefix/);
      client.disconnect();
    });

    test("createStore connects and PINGs", async () => {
      const store = await createStore({ type: "redis", url: url!, keyPrefix: prefix });
      try {
        await store.set("created", true);
        expect(await store.get("created")).toBe(true);
      } finally {
        await store.close();
      }
    });
  });
});

describe("createStore", () => {
  test("memory", async () => {
    const store = await createStore({ type: "memory" });
    expect(store).toBeInstanceOf(MemoryStore);
    await store.close();
  });

  test("an unreachable Redis fails naming the URL without its password", async () => {
    const failure = createStore({ type: "redis", url: "redis://admin:hunter2-secret@127.0.0.1:1/0" });
    await expect(failure).rejects.toThrow("cannot connect to Redis at redis://admin:***@127.0.0.1:1/0");
    await expect(failure).rejects.toThrow(/ECONNREFUSED/);
    await failure.catch((error: Error) => expect(error.message).not.toContain("hunter2"));
  });

  test("a URL that is not redis:// is refused without echoing its password", async () => {
    const failure = createStore({ type: "redis", url: "http://user:hunter2-secret@host" });
    await expect(failure).rejects.toThrow(/not a Redis URL/);
    await failure.catch((error: Error) => expect(error.message).not.toContain("hunter2"));
  });

  test("redactRedisUrl masks passwords only", () => {
    expect(redactRedisUrl("redis://127.0.0.1:6379")).toBe("redis://127.0.0.1:6379");
    expect(redactRedisUrl("rediss://:p%40ss@host:6380/2")).toBe("rediss://:***@host:6380/2");
    expect(redactRedisUrl("not a url //user:pw@x")).toBe("not a url //user:***@x");
  });

  test("prefixPattern escapes glob metacharacters", () => {
    expect(prefixPattern("a*b?[c]\\d")).toBe("a\\*b\\?\\[c\\]\\\\d*");
  });
});
