/**
 * The Agent's shared load (plugins/services/agent/load.ts) with two Agents' views of one store, in-process and on
 * the test Redis (two connections): the last slot of a worker goes to exactly one of them, a reservation to exactly one
 * claimer, and a lapsed entry no longer counts.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createLogger } from "../../core/log.ts";
import { MemoryStore } from "../../core/store/memory.ts";
import { RedisStore } from "../../core/store/redis.ts";
import type { Store } from "../../core/store/store.ts";
import { Balancer } from "../../plugins/services/agent/balancer.ts";
import { WorkerLoad } from "../../plugins/services/agent/load.ts";
import type { Registration } from "../../plugins/services/agent/registry.ts";
import { available, redisUrl } from "../support/env.ts";

const log = createLogger({ test: "agent-load" });
const worker = (port: number, slots = 1): Registration => ({ name: "w", endpoint: `http://127.0.0.1:${port}/chat`, slots, registered_at: port });

function cases(name: string, stores: () => [Store, Store]) {
  describe(name, () => {
    test("two Agents racing for a worker's last slot: exactly one gets it", async () => {
      const [one, two] = stores();
      const a = new WorkerLoad(one, "agent-a", 10_000, log);
      const b = new WorkerLoad(two, "agent-b", 10_000, log);
      const target = worker(1, 2);
      expect(await a.take((await a.read([target.endpoint]))[0], target.slots)).toBe(true);
      // Both see one free slot before either writes.
      const [viewA, viewB] = await Promise.all([a.read([target.endpoint]), b.read([target.endpoint])]);
      expect([viewA[0].load, viewB[0].load]).toEqual([1, 1]);
      const taken = await Promise.all([a.take(viewA[0], target.slots), b.take(viewB[0], target.slots)]);
      expect(taken.filter(Boolean)).toHaveLength(1);
      expect((await b.read([target.endpoint]))[0].load).toBe(2);
      await Promise.all([a.stop(), b.stop()]);
      expect(await one.get(`load:${encodeURIComponent(target.endpoint)}`)).toBeNull();
    });

    test("two Balancers acquiring at once spread over the free workers, then none is left", async () => {
      const [one, two] = stores();
      const a = new Balancer(new WorkerLoad(one, "agent-a", 10_000, log), one, 60_000);
      const b = new Balancer(new WorkerLoad(two, "agent-b", 10_000, log), two, 60_000);
      const workers = [worker(2), worker(3)];
      const picked = await Promise.all([a.acquire(workers), b.acquire(workers), a.acquire(workers), b.acquire(workers)]);
      expect(picked.filter(Boolean).map((w) => w!.endpoint).sort()).toEqual(workers.map((w) => w.endpoint));
      expect(await Promise.all([a.acquire(workers), b.acquire(workers)])).toEqual([undefined, undefined]);
      await Promise.all([a.stop(), b.stop()]);
    });

    test("a reservation made by one Agent is claimed by another exactly once, and holds its slot until then", async () => {
      const [one, two] = stores();
      const a = new WorkerLoad(one, "agent-a", 10_000, log);
      const b = new WorkerLoad(two, "agent-b", 10_000, log);
      const target = worker(5, 1);
      expect(await a.reserve((await a.read([target.endpoint]))[0], 1, "conversation", 10_000)).toBe(true);
      expect(await b.take((await b.read([target.endpoint]))[0], 1)).toBe(false);
      expect(await Promise.all([a.claim(target.endpoint, "conversation"), b.claim(target.endpoint, "conversation")])).toContainValues([true, false]);
      expect((await a.read([target.endpoint]))[0].load).toBe(1);
      expect(await b.cancel(target.endpoint, "conversation")).toBe(false);
      await Promise.all([a.stop(), b.stop()]);
      expect(await one.get(`load:${encodeURIComponent(target.endpoint)}`)).toBeNull();
    });

    test("an entry whose lease ran out does not count, though the key lives on", async () => {
      const [one, two] = stores();
      const dead = new WorkerLoad(one, "agent-dead", 1000, log); // never started: nothing renews its entry
      const alive = new WorkerLoad(two, "agent-alive", 10_000, log);
      const target = worker(4, 2);
      expect(await dead.take((await dead.read([target.endpoint]))[0], target.slots)).toBe(true);
      await Bun.sleep(100);
      // The live Agent's write keeps the key for its own lease.
      expect(await alive.take((await alive.read([target.endpoint]))[0], target.slots)).toBe(true);
      expect((await alive.read([target.endpoint]))[0].load).toBe(2);
      await Bun.sleep(1000);
      const view = (await alive.read([target.endpoint]))[0];
      expect(view.board).toHaveProperty("agent-dead");
      expect(view.load).toBe(1);
      expect(await alive.take(view, target.slots)).toBe(true);
      expect(Object.keys((await alive.read([target.endpoint]))[0].board!)).toEqual(["agent-alive"]);
      await alive.stop();
    });
  });
}

cases("in-process store", () => {
  const store = new MemoryStore();
  return [store, store];
});

describe.skipIf(!available("redis", redisUrl()))("Redis", () => {
  const prefix = `agent-load-unit-${process.pid}-${Date.now()}:`;
  const opened: RedisStore[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((store) => store.close()));
  });
  let run = 0;
  cases("two connections", () => {
    const keyPrefix = `${prefix}${run++}:`;
    const pair: [RedisStore, RedisStore] = [new RedisStore(redisUrl()!, { keyPrefix }), new RedisStore(redisUrl()!, { keyPrefix })];
    opened.push(...pair);
    return pair;
  });
});
