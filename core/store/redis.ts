/**
 * The shared store: the same semantics as `MemoryStore`, on Redis through ioredis.
 * Keys and channels are stored under `keyPrefix` (our own prefixing, not ioredis' `keyPrefix`, which would
 * not apply to SCAN patterns or channels). Multi-step operations are Lua scripts, see `redis-scripts.ts`.
 */
import Redis, { ReplyError } from "ioredis";
import { StoreUnavailable } from "../errors.ts";
import type { HandlerErrorReporter } from "./channel-handlers.ts";
import { NamespacedStore } from "./namespaced.ts";
import { logConnectionErrors, openConnection, redactRedisUrl, releaseConnection, verifyConnection } from "./redis-connection.ts";
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
  /**
   * The longest a command may wait for Redis before it fails with `StoreUnavailable` (config `store.timeout_ms`);
   * default 1500. Applies to the connections the store opens from a URL; a client handed in keeps its own options.
   */
  timeoutMs?: number;
}

export const DEFAULT_STORE_TIMEOUT_MS = 1500;
const SCAN_COUNT = 500;
/** Replies by which Redis says it cannot serve now (loading its data, busy with a script, a replica cut off). */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN)\b/;
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
  /** The server as named in errors, password masked. */
  private readonly where: string;
  private readonly timeoutMs: number;
  /** The connection's latest socket error while it is not ready (why commands fail), cleared when it is. */
  private connectionError: string | undefined;
  private pinging: Promise<void> | undefined;
  /** The first connection attempt, which the first commands wait for (later ones fail at once while Redis is away). */
  private connecting: Promise<void> | undefined;
  private closed = false;

  constructor(connection: string | Redis, options: RedisStoreOptions = {}) {
    if (typeof connection !== "string" && connection.options.keyPrefix) {
      throw new TypeError("RedisStore: the ioredis client must not have a keyPrefix; pass RedisStore's keyPrefix option instead");
    }
    this.timeoutMs = options.timeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
    const client = typeof connection === "string" ? openConnection(connection, this.timeoutMs) : connection;
    this.ownsClient = typeof connection === "string";
    this.where = typeof connection === "string" ? redactRedisUrl(connection) : `redis://${client.options.host}:${client.options.port}`;
    client.on("error", (error: unknown) => (this.connectionError = error instanceof Error ? error.message : String(error)));
    client.on("ready", () => (this.connectionError = undefined));
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

  /**
   * Runs Redis commands (and nothing else, so that our own errors pass unchanged): a failure of the connection, a
   * timeout or a reply saying Redis cannot serve now becomes `StoreUnavailable`; other replies stay as they are.
   */
  private async command<T>(run: (redis: ScriptedRedis) => Promise<T>): Promise<T> {
    try {
      if (this.redis.status === "wait") this.connecting ??= this.redis.connect().finally(() => (this.connecting = undefined));
      if (this.connecting) await this.connecting;
      return await run(this.redis);
    } catch (error) {
      throw this.unavailable(error) ?? error;
    }
  }

  private unavailable(error: unknown): StoreUnavailable | undefined {
    if (!(error instanceof Error)) return undefined;
    if (error instanceof ReplyError) {
      return UNAVAILABLE_REPLY.test(error.message) ? new StoreUnavailable(`Redis at ${this.where} cannot serve now (${error.message})`, { cause: error }) : undefined;
    }
    if (error.message === "Command timed out") {
      return new StoreUnavailable(`Redis at ${this.where} did not answer within ${this.timeoutMs} ms (store.timeout_ms)`, { cause: error });
    }
    const why = this.redis.status === "ready" ? error.message : (this.connectionError ?? `the connection is ${this.redis.status}`);
    return new StoreUnavailable(`Redis at ${this.where} is not reachable (${why})`, { cause: error });
  }

  /** Resolves when Redis answers a PING within the bound; concurrent callers share one PING. */
  async ping(): Promise<void> {
    this.ensureOpen();
    this.pinging ??= this.command(async (redis) => void (await redis.ping())).finally(() => (this.pinging = undefined));
    return this.pinging;
  }

  /** Full Redis key (or channel) of `key`, after checking the store is open. */
  private full(key: string): string {
    this.ensureOpen();
    return this.prefix + key;
  }

  async get<T = unknown>(key: string): Promise<T | null> {
    const fullKey = this.full(key);
    const text = await this.command((redis) => redis.get(fullKey));
    return text === null ? null : decodeValue<T>(key, text);
  }

  async set(key: string, value: unknown, options: SetOptions = {}): Promise<boolean> {
    const args: (string | number)[] = [this.full(key), encodeStoredValue(key, value)];
    if (options.ttlMs != null) args.push("PX", ttlArgument(key, options.ttlMs));
    if (options.ifAbsent) args.push("NX");
    return (await this.command((redis) => redis.call("SET", ...args))) === "OK";
  }

  async delete(key: string): Promise<boolean> {
    const fullKey = this.full(key);
    return (await this.command((redis) => redis.del(fullKey))) > 0;
  }

  async compareAndSet(key: string, expected: unknown, next: unknown, options: { ttlMs?: number } = {}): Promise<boolean> {
    const fullKey = this.full(key);
    const expectedText = expected === null ? "" : encodeValue(key, expected);
    const nextText = next === null ? "" : encodeStoredValue(key, next);
    const ttlMs = options.ttlMs == null ? "" : String(ttlArgument(key, options.ttlMs));
    return (await this.command((redis) => redis.rockStoreCompareAndSet(fullKey, expectedText, nextText, ttlMs))) === 1;
  }

  async increment(key: string, by = 1): Promise<number> {
    const fullKey = this.full(key);
    const step = incrementArgument(key, by);
    try {
      return Number(await this.command((redis) => redis.rockStoreIncrement(fullKey, String(step))));
    } catch (error) {
      const message = error instanceof Error ? error.message : "";
      if (message.includes(NOT_AN_INTEGER)) throw notAnInteger(key);
      if (message.includes(OVERFLOW)) throw incrementOverflow(key);
      throw error;
    }
  }

  async ttl(key: string): Promise<number | null> {
    const fullKey = this.full(key);
    const remaining = await this.command((redis) => redis.pttl(fullKey));
    return remaining < 0 ? null : remaining;
  }

  async expire(key: string, ttlMs: number | null): Promise<boolean> {
    const fullKey = this.full(key);
    if (ttlMs === null) return (await this.command((redis) => redis.rockStorePersist(fullKey))) === 1;
    const validTtlMs = ttlArgument(key, ttlMs);
    return (await this.command((redis) => redis.pexpire(fullKey, validTtlMs))) === 1;
  }

  async scan<T = unknown>(prefix: string): Promise<Entry<T>[]> {
    const pattern = prefixPattern(this.full(prefix));
    const found = new Set<string>();
    let cursor = "0";
    do {
      const from = cursor;
      const [next, keys] = await this.command((redis) => redis.scan(from, "MATCH", pattern, "COUNT", SCAN_COUNT));
      for (const fullKey of keys) found.add(fullKey);
      cursor = next;
    } while (cursor !== "0");

    const sorted = [...found].sort();
    const entries: Entry<T>[] = [];
    for (let start = 0; start < sorted.length; start += MGET_BATCH) {
      const batch = sorted.slice(start, start + MGET_BATCH);
      const texts = await this.command((redis) => redis.mget(...batch));
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
    const fullChannel = this.full(channel);
    const text = encodeMessage(channel, message);
    return this.command((redis) => redis.publish(fullChannel, text));
  }

  async subscribe(channel: string, handler: (message: unknown) => void): Promise<Unsubscribe> {
    const fullChannel = this.full(channel);
    return this.command(() => this.subscriber.subscribe(fullChannel, handler));
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
