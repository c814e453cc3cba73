/**
 * Which worker takes the next conversation: the least loaded one (load = reserved + streaming, relative to its
 * slots) that has a free slot; among equals the one this Agent picked least recently, so that load spreads even when
 * requests come one at a time. Load is shared by every Agent on the store (load.ts); the recency stays this Agent's
 * own: it only breaks ties, needs no agreement, and a shared one would cost a write per pick and order picks by
 * machines' clocks.
 *
 * A `worker/schedule` reservation holds a slot for (name, history_id, user_id) until the completion takes it,
 * or until it expires (the original kept unclaimed reservations forever). Reservations are this Agent's: a
 * completion must come to the Agent that answered its schedule.
 */
import type { LoadView, WorkerLoad } from "./load.ts";
import type { Registration } from "./registry.ts";

interface Reservation {
  endpoint: string;
  timer: Timer;
}

/** Selections in a row that lose a race with another Agent before the answer is "busy". */
const attempts = 8;

export class Balancer {
  private readonly lastPicked = new Map<string, number>();
  private readonly reservations = new Map<string, Reservation>();
  private picks = 0;

  constructor(
    private readonly load: WorkerLoad,
    private readonly reservationTtlMs: number,
  ) {}

  private static key(name: string, historyId: string, userId: string) {
    return JSON.stringify([name, historyId, userId]);
  }

  /** The least loaded worker with a free slot in `views`; undefined when every one is full. */
  private choose(workers: Registration[], views: LoadView[]): number | undefined {
    let best: number | undefined;
    let bestRatio = Infinity;
    for (let i = 0; i < workers.length; i++) {
      const { load } = views[i];
      if (load >= workers[i].slots) continue;
      const ratio = load / workers[i].slots;
      const older = best !== undefined && (this.lastPicked.get(workers[i].endpoint) ?? -1) < (this.lastPicked.get(workers[best].endpoint) ?? -1);
      if (ratio < bestRatio || (ratio === bestRatio && older)) {
        best = i;
        bestRatio = ratio;
      }
    }
    return best;
  }

  /**
   * The least loaded worker with a free slot, now counted as busier in the store; undefined when every one is full.
   * Throws StoreUnavailable when the store does not answer.
   */
  async acquire(workers: Registration[]): Promise<Registration | undefined> {
    for (let attempt = 0; attempt < attempts; attempt++) {
      const views = await this.load.read(workers.map((worker) => worker.endpoint));
      const best = this.choose(workers, views);
      if (best === undefined) return undefined;
      // Counted as picked before the write, so that this Agent's concurrent picks spread over equals.
      this.lastPicked.set(workers[best].endpoint, this.picks++);
      if (await this.load.take(views[best], workers[best].slots)) return workers[best];
    }
    return undefined;
  }

  release(endpoint: string) {
    this.load.release(endpoint);
  }

  /** READY (a slot is held for this conversation), BUSY (every worker is full) or NOMACHINE (no worker). */
  async reserve(name: string, historyId: string, userId: string, workers: Registration[]): Promise<"READY" | "BUSY" | "NOMACHINE"> {
    if (workers.length === 0) return "NOMACHINE";
    const key = Balancer.key(name, historyId, userId);
    if (this.reservations.has(key)) return "READY";
    const worker = await this.acquire(workers);
    if (!worker) return "BUSY";
    // A second schedule of the same conversation may have raced this one: keep one slot.
    if (this.reservations.has(key)) {
      this.release(worker.endpoint);
      return "READY";
    }
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
    this.lastPicked.delete(endpoint);
    void this.load.forget(endpoint);
  }

  /** Drops the reservations and gives back every slot this Agent holds. */
  async stop() {
    for (const reservation of this.reservations.values()) clearTimeout(reservation.timer);
    this.reservations.clear();
    await this.load.stop();
  }
}
