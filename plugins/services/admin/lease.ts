/**
 * One holder at a time among the admins that share a store: the key holds the holder's id with a time to live, which
 * the holder renews; when it stops it lets go, and when it dies the key expires and another admin takes it. The
 * cluster-wide jobs (idle scan, reconciler) run only where the lease is held.
 */
import type { Store } from "../../../core/store/store.ts";

export class Lease {
  private heldUntil = 0;

  /**
   * `holder` names this admin the same way across its restarts: one that was killed takes its lease back at once
   * instead of waiting for its old key to expire.
   */
  constructor(
    readonly holder: string,
    private readonly store: Store,
    private readonly key: string,
    private readonly ttlMs: number,
  ) {}

  /** Renews the lease, or takes it when nobody holds it; whether this admin holds it now. A store error: not held. */
  async acquire(): Promise<boolean> {
    const asked = Date.now();
    const options = { ttlMs: this.ttlMs };
    try {
      const held =
        (await this.store.compareAndSet(this.key, this.holder, this.holder, options)) ||
        (await this.store.set(this.key, this.holder, { ...options, ifAbsent: true }));
      // Counted from before the call: the key may have been written at any moment during it.
      this.heldUntil = held ? asked + this.ttlMs : 0;
    } catch {
      this.heldUntil = 0;
    }
    return this.held;
  }

  /** True until the lease this admin took could have expired. */
  get held(): boolean {
    return Date.now() < this.heldUntil;
  }

  /** Lets go, so that another admin takes over at once rather than when the key expires. */
  async release(): Promise<void> {
    this.heldUntil = 0;
    await this.store.compareAndSet(this.key, this.holder, null).catch(() => false);
  }
}
