/**
 * Hot state: JSON values under string keys, with TTLs, compare-and-set, prefix scans and pub/sub.
 * Two implementations share these semantics exactly: `MemoryStore` (embedded default) and `RedisStore`.
 *
 * Values are stored as their `JSON.stringify` text; `get` returns a fresh parse, so a caller never shares
 * an object with the store. `compareAndSet` compares that text, so `expected` must be the value as read.
 *
 * Choices both implementations make identically:
 * - `set(k, null)` is refused (use `delete`): a stored null would read as absent yet block `ifAbsent`.
 * - `set` without `ttlMs` clears an existing TTL (like Redis SET); `compareAndSet` without `ttlMs` keeps it
 *   (KEEPTTL); `increment` keeps it.
 * - `increment` works on safe integers only (Redis float formatting differs from JSON's).
 * - `publish` returns 1 when anyone in this process (memory) or any connection (Redis) listens, else 0.
 *
 * No call waits on Redis longer than its bound (`store.timeout_ms`): when Redis is down, unreachable or hung, a call
 * fails with `StoreUnavailable` (core/errors.ts), and works again once Redis is back, without a restart.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface SetOptions {
  /** Expire the key after this many milliseconds. */
  ttlMs?: number;
  /** Only set when the key does not exist (returns false otherwise). */
  ifAbsent?: boolean;
}

export interface Entry<T = unknown> {
  key: string;
  value: T;
}

export type Unsubscribe = () => Promise<void>;

export interface Store {
  get<T = unknown>(key: string): Promise<T | null>;
  /** Returns false only when `ifAbsent` was given and the key already existed. */
  set(key: string, value: unknown, options?: SetOptions): Promise<boolean>;
  /** Returns true when the key existed. */
  delete(key: string): Promise<boolean>;
  /**
   * Atomically replace the value when the current value equals `expected` (null = key absent).
   * `next` null deletes the key. Returns whether the swap happened.
   */
  compareAndSet(key: string, expected: unknown | null, next: unknown | null, options?: { ttlMs?: number }): Promise<boolean>;
  /** Atomically add `by` to a numeric value (absent = 0) and return the result. */
  increment(key: string, by?: number): Promise<number>;
  /** Remaining time to live in ms; null when the key has no TTL or does not exist. */
  ttl(key: string): Promise<number | null>;
  /** Set (ttlMs > 0) or clear (ttlMs null) the expiry of an existing key; false when the key is absent. */
  expire(key: string, ttlMs: number | null): Promise<boolean>;
  /** Every live entry whose key starts with `prefix`, sorted by key. */
  scan<T = unknown>(prefix: string): Promise<Entry<T>[]>;
  /** Fire-and-forget message to every current subscriber of `channel`; returns the number reached (best effort). */
  publish(channel: string, message: unknown): Promise<number>;
  /** Subscribe to `channel`; messages arrive parsed. Resolves once the subscription is active. */
  subscribe(channel: string, handler: (message: unknown) => void): Promise<Unsubscribe>;
  /** Resolves when the store answers (Redis: a PING within the bound); rejects with `StoreUnavailable` otherwise. */
  ping(): Promise<void>;
  /** A view of this store whose keys and channels are prefixed with `prefix` (scans strip it again). */
  namespace(prefix: string): Store;
  close(): Promise<void>;
}
