/**
 * The embedded store: everything in one process's memory, same semantics as `RedisStore`.
 * Expired keys are dropped when touched and by a periodic sweep; the sweep only frees memory,
 * visibility never depends on it. Each method runs without awaiting, which is what makes it atomic.
 */
import { ChannelHandlers, type HandlerErrorReporter } from "./channel-handlers.ts";
import { NamespacedStore } from "./namespaced.ts";
import type { Entry, SetOptions, Store, Unsubscribe } from "./store.ts";
import {
  decodeValue,
  encodeMessage,
  encodeStoredValue,
  encodeValue,
  incrementArgument,
  incrementResult,
  storeClosed,
  ttlArgument,
} from "./values.ts";

export interface MemoryStoreOptions {
  /** How often expired keys are purged; default 1000 ms. */
  sweepIntervalMs?: number;
  /** Monotonic clock in ms; replace it to control expiry in tests. */
  now?: () => number;
  /** Where a failing subscriber is reported; default the kernel log. */
  onHandlerError?: HandlerErrorReporter;
}

interface StoredEntry {
  text: string;
  /** On the `now` clock; null = no TTL. */
  expiresAt: number | null;
}

export class MemoryStore implements Store {
  private readonly entries = new Map<string, StoredEntry>();
  private readonly handlers: ChannelHandlers;
  private readonly now: () => number;
  private readonly sweeper: ReturnType<typeof setInterval>;
  private closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.now = options.now ?? (() => performance.now());
    this.handlers = new ChannelHandlers(options.onHandlerError);
    this.sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 1000);
    this.sweeper.unref();
  }

  private isExpired(entry: StoredEntry, now = this.now()): boolean {
    return entry.expiresAt !== null && entry.expiresAt <= now;
  }

  private ensureOpen(): void {
    if (this.closed) throw storeClosed();
  }

  /** The entry under `key` unless absent or expired (an expired one is dropped on the way). */
  private live(key: string): StoredEntry | undefined {
    const entry = this.entries.get(key);
    if (entry && this.isExpired(entry)) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Validates a TTL option before anything changes; null = none given. */
  private ttlOption(key: string, ttlMs: number | null | undefined): number | null {
    return ttlMs == null ? null : ttlArgument(key, ttlMs);
  }

  private deadline(ttlMs: number | null): number | null {
    return ttlMs === null ? null : this.now() + ttlMs;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (this.isExpired(entry, now)) this.entries.delete(key);
  }

  async get<T = unknown>(key: string): Promise<T | null> {
    this.ensureOpen();
    const entry = this.live(key);
    return entry ? decodeValue<T>(key, entry.text) : null;
  }

  async set(key: string, value: unknown, options: SetOptions = {}): Promise<boolean> {
    this.ensureOpen();
    const text = encodeStoredValue(key, value);
    const ttlMs = this.ttlOption(key, options.ttlMs);
    if (options.ifAbsent && this.live(key)) return false;
    this.entries.set(key, { text, expiresAt: this.deadline(ttlMs) });
    return true;
  }

  async delete(key: string): Promise<boolean> {
    this.ensureOpen();
    return this.live(key) !== undefined && this.entries.delete(key);
  }

  async compareAndSet(key: string, expected: unknown, next: unknown, options: { ttlMs?: number } = {}): Promise<boolean> {
    this.ensureOpen();
    const expectedText = expected === null ? null : encodeValue(key, expected);
    const nextText = next === null ? null : encodeStoredValue(key, next);
    const ttlMs = this.ttlOption(key, options.ttlMs);
    const current = this.live(key);
    if ((current?.text ?? null) !== expectedText) return false;
    if (nextText === null) {
      this.entries.delete(key);
      return true;
    }
    // Without a new TTL the old one is kept, like Redis SET ... KEEPTTL.
    const expiresAt = ttlMs === null ? (current?.expiresAt ?? null) : this.deadline(ttlMs);
    this.entries.set(key, { text: nextText, expiresAt });
    return true;
  }

  async increment(key: string, by = 1): Promise<number> {
    this.ensureOpen();
    const step = incrementArgument(key, by);
    const current = this.live(key);
    const result = incrementResult(key, current ? decodeValue(key, current.text) : 0, step);
    this.entries.set(key, { text: JSON.stringify(result), expiresAt: current?.expiresAt ?? null });
    return result;
  }

  async ttl(key: string): Promise<number | null> {
    this.ensureOpen();
    const entry = this.live(key);
    if (!entry || entry.expiresAt === null) return null;
    return Math.ceil(entry.expiresAt - this.now());
  }

  async expire(key: string, ttlMs: number | null): Promise<boolean> {
    this.ensureOpen();
    const validTtlMs = this.ttlOption(key, ttlMs);
    const entry = this.live(key);
    if (!entry) return false;
    entry.expiresAt = this.deadline(validTtlMs);
    return true;
  }

  async scan<T = unknown>(prefix: string): Promise<Entry<T>[]> {
    this.ensureOpen();
    this.sweep();
    const keys = [...this.entries.keys()].filter((key) => key.startsWith(prefix)).sort();
    return keys.map((key) => ({ key, value: decodeValue<T>(key, this.entries.get(key)!.text) }));
  }

  async publish(channel: string, message: unknown): Promise<number> {
    this.ensureOpen();
    const text = encodeMessage(channel, message);
    // Delivered after publish returns, as over Redis: a publisher never runs its subscribers' code inline.
    queueMicrotask(() => this.handlers.deliver(channel, text));
    // Redis counts subscribed connections, and a RedisStore has one however many handlers: count this store once.
    return this.handlers.has(channel) ? 1 : 0;
  }

  async subscribe(channel: string, handler: (message: unknown) => void): Promise<Unsubscribe> {
    this.ensureOpen();
    const subscription = { handler };
    this.handlers.add(channel, subscription);
    return async () => {
      this.handlers.remove(channel, subscription);
    };
  }

  async ping(): Promise<void> {
    this.ensureOpen();
  }

  namespace(prefix: string): Store {
    return new NamespacedStore(this, prefix);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    this.entries.clear();
    this.handlers.clear();
  }
}
