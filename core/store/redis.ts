/**
 * The shared store: the same semantics as `MemoryStore`, on Redis through ioredis.
 * Keys and channels are stored under `keyPrefix` (our own prefixing, not ioredis' `keyPrefix`, which would
 * not apply to SCAN patterns or channels). Multi-step operations are Lua scripts, see `redis-scripts.ts`.
 */
import Redis from "ioredis";
import type { HandlerErrorReporter } from "./channel-handlers.ts";
import { NamespacedStore } from "./namespaced.ts";
import { logConnectionErrors, openConnection, releaseConnection, verifyConnection } from "./redis-connection.ts";
import { NOT_AN_INTEGER, OVERFLOW, type ScriptedRedis, withStoreScripts } from "./redis-scripts.ts";
import { RedisSubscriber } from "./redis-subscriber.ts";
import type { Entry, SetOptions, Store, Unsubscribe } from "./store.ts";
import {
  decodeValue,
  encodeMessage,
  encodeStoredValue,
  encodeValue,
  incrementArgument,
  incrementOverflow,
  notAnInteger,
  storeClosed,
  ttlArgument,
} from "./values.ts";

export interface RedisStoreOptions {
  /** Prepended to every key and channel, e.g. "rock:". */
  keyPrefix?: string;
  /** Where a failing subscriber is reported; default the kernel log. */
  onHandlerError?: HandlerErrorReporter;
}

const SCAN_COUNT = 500;
const MGET_BATCH = 500;

/** A SCAN MATCH pattern matching exactly the keys that start with `prefix`. */
export function prefixPattern(prefix: string): string {
  return prefix.replace(/[*?[\]\\]/g, "\\$&") + "*";
}

export class RedisStore implements Store {
  private readonly redis: ScriptedRedis;
  private readonly subscriber: RedisSubscriber;
  private readonly prefix: string;
  /** A client we opened from a URL is ours to quit; one handed to us stays the caller's. */
  private readonly ownsClient: boolean;
  private closed = false;

  constructor(connection: string | Redis, options: RedisStoreOptions = {}) {
    if (typeof connection !== "string" && connection.options.keyPrefix) {
      throw new TypeError("RedisStore: the ioredis client must not have a keyPrefix; pass RedisStore's keyPrefix option instead");
    }
    const client = typeof connection === "string" ? openConnection(connection) : connection;
    this.ownsClient = typeof connection === "string";
    this.redis = withStoreScripts(client);
    this.prefix = options.keyPrefix ?? "";
    this.subscriber = new RedisSubscriber(() => {
      const duplicate = client.duplicate();
      logConnectionErrors(duplicate, "subscriber");
      return duplicate;
    }, options.onHandlerError);
  }

  /** Connects (if not yet connected) and PINGs; rejects with the connection's error. */
  async connect(): Promise<void> {
    this.ensureOpen();
    await verifyConnection(this.redis);
  }

  private ensureOpen(): void {
    if (this.closed) throw storeClosed();
  }

  /** Full Redis key (or channel) of `key`, after checking the store is open. */
  private full(key: string): string {
    this.ensureOpen();
    return this.prefix + key;
  }

  async get<T = unknown>(key: string): Promise<T | null> {
    const text = await this.redis.get(this.full(key));
    return text === null ? null : decodeValue<T>(key, text);
  }

  async set(key: string, value: unknown, options: SetOptions = {}): Promise<boolean> {
    const args: (string | number)[] = [this.full(key), encodeStoredValue(key, value)];
    if (options.ttlMs != null) args.push("PX", ttlArgument(key, options.ttlMs));
    if (options.ifAbsent) args.push("NX");
    return (await this.redis.call("SET", ...args)) === "OK";
  }

  async delete(key: string): Promise<boolean> {
    return (await this.redis.del(this.full(key))) > 0;
  }

  async compareAndSet(key: string, expected: unknown, next: unknown, options: { ttlMs?: number } = {}): Promise<boolean> {
    const fullKey = this.full(key);
    const expectedText = expected === null ? "" : encodeValue(key, expected);
    const nextText = next === null ? "" : encodeStoredValue(key, next);
    const ttlMs = options.ttlMs == null ? "" : String(ttlArgument(key, options.ttlMs));
    return (await this.redis.rockStoreCompareAndSet(fullKey, expectedText, nextText, ttlMs)) === 1;
  }

  async increment(key: string, by = 1): Promise<number> {
    const fullKey = this.full(key);
    const step = incrementArgument(key, by);
    try {
      return Number(await this.redis.rockStoreIncrement(fullKey, String(step)));
    } catch (error) {
      const message = error instanceof Error ? error.message : "";
      if (message.includes(NOT_AN_INTEGER)) throw notAnInteger(key);
      if (message.includes(OVERFLOW)) throw incrementOverflow(key);
      throw error;
    }
  }

  async ttl(key: string): Promise<number | null> {
    const remaining = await this.redis.pttl(this.full(key));
    return remaining < 0 ? null : remaining;
  }

  async expire(key: string, ttlMs: number | null): Promise<boolean> {
    const fullKey = this.full(key);
    if (ttlMs === null) return (await this.redis.rockStorePersist(fullKey)) === 1;
    return (await this.redis.pexpire(fullKey, ttlArgument(key, ttlMs))) === 1;
  }

  async scan<T = unknown>(prefix: string): Promise<Entry<T>[]> {
    const pattern = prefixPattern(this.full(prefix));
    const found = new Set<string>();
    let cursor = "0";
    do {
      const [next, keys] = await this.redis.scan(cursor, "MATCH", pattern, "COUNT", SCAN_COUNT);
      for (const fullKey of keys) found.add(fullKey);
      cursor = next;
    } while (cursor !== "0");

    const sorted = [...found].sort();
    const entries: Entry<T>[] = [];
    for (let start = 0; start < sorted.length; start += MGET_BATCH) {
      const batch = sorted.slice(start, start + MGET_BATCH);
      const texts = await this.redis.mget(...batch);
      batch.forEach((fullKey, i) => {
        const text = texts[i];
        const key = fullKey.slice(this.prefix.length);
        // null: deleted or expired since the SCAN (or not a string key).
        if (text != null) entries.push({ key, value: decodeValue<T>(key, text) });
      });
    }
    return entries;
  }

  async publish(channel: string, message: unknown): Promise<number> {
    return this.redis.publish(this.full(channel), encodeMessage(channel, message));
  }

  async subscribe(channel: string, handler: (message: unknown) => void): Promise<Unsubscribe> {
    return this.subscriber.subscribe(this.full(channel), handler);
  }

  namespace(prefix: string): Store {
    return new NamespacedStore(this, prefix);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.subscriber.close();
    if (this.ownsClient) await releaseConnection(this.redis);
  }
}
