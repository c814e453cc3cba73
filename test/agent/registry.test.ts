import { expect, test } from "bun:test";
import { MemoryStore } from "../../core/store/memory.ts";
import type { Store } from "../../core/store/store.ts";
import { WorkerRegistry } from "../../plugins/services/agent/registry.ts";

/** A store whose scans answer late, as Redis does across the network: the snapshot predates what happens meanwhile. */
function slowScanStore(): Store {
  const store = new MemoryStore();
  return Object.assign(Object.create(store), {
    scan: async (prefix: string) => {
      const entries = await store.scan(prefix);
      await Bun.sleep(20);
      return entries;
    },
  });
}

test("a registration made while a refresh reads the store is not lost by that refresh", async () => {
  const registry = new WorkerRegistry(slowScanStore());
  const refreshing = registry.refresh(); // its snapshot of the store is taken before the add below
  expect(await registry.add("w", "http://127.0.0.1:1/v1/completion", 1)).toBe(true);
  await refreshing;
  expect(registry.workers("w").map((r) => r.endpoint)).toEqual(["http://127.0.0.1:1/v1/completion"]);
});

test("an unregistration made while a refresh reads the store is not undone by that refresh", async () => {
  const registry = new WorkerRegistry(slowScanStore());
  await registry.add("w", "http://127.0.0.1:1/v1/completion", 1);
  await registry.add("w", "http://127.0.0.1:2/v1/completion", 1);
  const refreshing = registry.refresh();
  expect(await registry.remove("w", (e) => e.includes(":1/"))).toBe(1);
  await refreshing;
  expect(registry.workers("w").map((r) => r.endpoint)).toEqual(["http://127.0.0.1:2/v1/completion"]);
  await registry.refresh();
  expect(registry.workers("w").map((r) => r.endpoint)).toEqual(["http://127.0.0.1:2/v1/completion"]);
});
