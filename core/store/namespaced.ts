/**
 * A prefixed view of another store: keys and channels get `prefix`, scans strip it again.
 * Views nest by wrapping each other, so a view's prefix is its parent's plus its own.
 *
 * A view owns no connection: `close()` only ends the subscriptions made through it (and through views
 * derived from it) and refuses further use; the underlying store stays open for everyone else.
 */
import type { Entry, SetOptions, Store, Unsubscribe } from "./store.ts";
import { storeClosed } from "./values.ts";

export class NamespacedStore implements Store {
  private readonly subscriptions = new Set<Unsubscribe>();
  private closed = false;

  constructor(
    private readonly parent: Store,
    readonly prefix: string,
  ) {}

  private open(): Store {
    if (this.closed) throw storeClosed();
    return this.parent;
  }

  async get<T = unknown>(key: string): Promise<T | null> {
    return this.open().get<T>(this.prefix + key);
  }

  async set(key: string, value: unknown, options?: SetOptions): Promise<boolean> {
    return this.open().set(this.prefix + key, value, options);
  }

  async delete(key: string): Promise<boolean> {
    return this.open().delete(this.prefix + key);
  }

  async compareAndSet(key: string, expected: unknown, next: unknown, options?: { ttlMs?: number }): Promise<boolean> {
    return this.open().compareAndSet(this.prefix + key, expected, next, options);
  }

  async increment(key: string, by?: number): Promise<number> {
    return this.open().increment(this.prefix + key, by);
  }

  async ttl(key: string): Promise<number | null> {
    return this.open().ttl(this.prefix + key);
  }

  async expire(key: string, ttlMs: number | null): Promise<boolean> {
    return this.open().expire(this.prefix + key, ttlMs);
  }

  async scan<T = unknown>(prefix: string): Promise<Entry<T>[]> {
    const entries = await this.open().scan<T>(this.prefix + prefix);
    return entries.map(({ key, value }) => ({ key: key.slice(this.prefix.length), value }));
  }

  async publish(channel: string, message: unknown): Promise<number> {
    return this.open().publish(this.prefix + channel, message);
  }

  async subscribe(channel: string, handler: (message: unknown) => void): Promise<Unsubscribe> {
    const unsubscribe = await this.open().subscribe(this.prefix + channel, handler);
    if (this.closed) {
      await unsubscribe();
      throw storeClosed();
    }
    const tracked: Unsubscribe = async () => {
      this.subscriptions.delete(tracked);
      await unsubscribe();
    };
    this.subscriptions.add(tracked);
    return tracked;
  }

  async ping(): Promise<void> {
    return this.open().ping();
  }

  namespace(prefix: string): Store {
    return new NamespacedStore(this, prefix);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((unsubscribe) => unsubscribe()));
  }
}
