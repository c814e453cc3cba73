/** The hot-state store the kernel runs on: embedded memory by default, Redis when configured. */
import { errorMessage } from "../errors.ts";
import { redact } from "../log.ts";
import { MemoryStore } from "./memory.ts";
import { RedisStore } from "./redis.ts";
import { redactRedisUrl } from "./redis-connection.ts";
import type { Store } from "./store.ts";

export type { Entry, Json, SetOptions, Store, Unsubscribe } from "./store.ts";
export { MemoryStore, type MemoryStoreOptions } from "./memory.ts";
export { RedisStore, type RedisStoreOptions } from "./redis.ts";
export { NamespacedStore } from "./namespaced.ts";
export { redactRedisUrl } from "./redis-connection.ts";

export type StoreConfig = { type: "memory" } | { type: "redis"; url: string; keyPrefix?: string; timeoutMs?: number };

/** A ready store; for Redis, connected and answering PING, or an error naming the URL (password masked). */
export async function createStore(config: StoreConfig): Promise<Store> {
  if (config.type === "memory") return new MemoryStore();
  const where = redactRedisUrl(config.url);
  let store: RedisStore;
  try {
    store = new RedisStore(config.url, { keyPrefix: config.keyPrefix, timeoutMs: config.timeoutMs });
  } catch (error) {
    throw new Error(`store: cannot use Redis at ${where}: ${redact(errorMessage(error))}`);
  }
  try {
    await store.connect();
  } catch (error) {
    await store.close();
    throw new Error(`store: cannot connect to Redis at ${where}: ${redact(errorMessage(error))}`);
  }
  return store;
}
