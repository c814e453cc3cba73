/**
 * Which worker takes the next conversation: the least loaded one (load = reserved + streaming, relative to its
 * slots) that has a free slot; among equals the one picked least recently, so that load spreads even when
 * requests come one at a time. Load is this Agent's own view and starts at zero after a restart, as in the
 * original, whose reloaded entries were reset to READY.
 *
 * A `worker/schedule` reservation holds a slot for (name, history_id, user_id) until the completion takes it,
 * or until it expires (the original kept unclaimed reservations forever).
 */
import type { Registration } from "./registry.ts";

interface Reservation {
  endpoint: string;
  timer: Timer;
}

export class Balancer {
  private readonly load = new Map<string, number>();
  private readonly lastPicked = new Map<string, number>();
  private readonly reservations = new Map<string, Reservation>();
  private picks = 0;

  constructor(private readonly reservationTtlMs: number) {}

  private static key(name: string, historyId: string, userId: string) {
    return JSON.stringify([name, historyId, userId]);
  }

  loadOf(endpoint: string): number {
    return this.load.get(endpoint) ?? 0;
  }

  /** The least loaded worker with a free slot, now counted as busier; undefined when every one is full. */
  acquire(workers: Registration[]): Registration | undefined {
    let best: Registration | undefined;
    let bestRatio = Infinity;
    for (const worker of workers) {
      const load = this.loadOf(worker.endpoint);
      if (load >= worker.slots) continue;
      const ratio = load / worker.slots;
      const older = best && (this.lastPicked.get(worker.endpoint) ?? -1) < (this.lastPicked.get(best.endpoint) ?? -1);
      if (ratio < bestRatio || (ratio === bestRatio && older)) {
        best = worker;
        bestRatio = ratio;
      }
    }
    if (best) {
      this.load.set(best.endpoint, this.loadOf(best.endpoint) + 1);
      this.lastPicked.set(best.endpoint, this.picks++);
    }
    return best;
  }

  release(endpoint: string) {
    const load = this.loadOf(endpoint) - 1;
    if (load > 0) this.load.set(endpoint, load);
    else this.load.delete(endpoint);
  }

  /** READY (a slot is held for this conversation), BUSY (every worker is full) or NOMACHINE (no worker). */
  reserve(name: string, historyId: string, userId: string, workers: Registration[]): "READY" | "BUSY" | "NOMACHINE" {
    if (workers.length === 0) return "NOMACHINE";
    const key = Balancer.key(name, historyId, userId);
    if (this.reservations.has(key)) return "READY";
    const worker = this.acquire(workers);
    if (!worker) return "BUSY";
    const timer = setTimeout(() => this.cancel(name, historyId, userId), this.reservationTtlMs);
    timer.unref?.();
    this.reservations.set(key, { endpoint: worker.endpoint, timer });
    return "READY";
  }

  /** Hands the reserved slot to a completion (the load stays until `release`). */
  claim(name: string, historyId: string, userId: string): string | undefined {
    const key = Balancer.key(name, historyId, userId);
    const reservation = this.reservations.get(key);
    if (!reservation) return undefined;
    clearTimeout(reservation.timer);
    this.reservations.delete(key);
    return reservation.endpoint;
  }

  /** Drops an unclaimed reservation; true when there was one. */
  cancel(name: string, historyId: string, userId: string): boolean {
    const endpoint = this.claim(name, historyId, userId);
    if (endpoint) this.release(endpoint);
    return endpoint !== undefined;
  }

  /** Reservations of these conversations, for `chat/abort`. */
  cancelHistories(historyIds: Set<string>, userId: string): number {
    let count = 0;
    for (const key of [...this.reservations.keys()]) {
      const [name, historyId, user] = JSON.parse(key) as string[];
      if (historyIds.has(historyId) && user === userId && this.cancel(name, historyId, user)) count++;
    }
    return count;
  }

  /** Forgets a worker that is gone (its reservations are dropped with it). */
  forget(endpoint: string) {
    for (const [key, reservation] of [...this.reservations]) {
      if (reservation.endpoint !== endpoint) continue;
      clearTimeout(reservation.timer);
      this.reservations.delete(key);
    }
    this.load.delete(endpoint);
    this.lastPicked.delete(endpoint);
  }

  stop() {
    for (const reservation of this.reservations.values()) clearTimeout(reservation.timer);
    this.reservations.clear();
  }
}
