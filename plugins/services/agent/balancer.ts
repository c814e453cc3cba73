/**
 * Which worker takes the next conversation: the least loaded one (load = reserved + streaming, relative to its
 * slots) that has a free slot; among equals the one this Agent picked least recently, so that load spreads even when
 * requests come one at a time. Load is shared by every Agent on the store (load.ts); the recency stays this Agent's
 * own: it only breaks ties, needs no agreement, and a shared one would cost a write per pick and order picks by
 * machines' clocks.
 *
 * A `worker/schedule` reservation holds a slot for (name, history_id, user_id) until a completion takes it, or until
 * it expires (the original kept unclaimed reservations forever). It lives in the store: its slot in the worker's load
 * (load.ts), and under `reservation:<conversation>` the worker it is on, so that the completion may come to any Agent.
 */
import type { Store } from "../../../core/store/store.ts";
import type { LoadView, WorkerLoad } from "./load.ts";
import type { Registration } from "./registry.ts";

/** Selections in a row that lose a race with another Agent before the answer is "busy". */
const attempts = 8;

export class Balancer {
  private readonly lastPicked = new Map<string, number>();
  private picks = 0;

  constructor(
    private readonly load: WorkerLoad,
    private readonly store: Store,
    private readonly reservationTtlMs: number,
  ) {}

  private static id(name: string, historyId: string, userId: string) {
    return JSON.stringify([name, historyId, userId]);
  }

  private static readonly reservationPrefix = "reservation:";

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
   * The least loaded worker with a free slot, now counted as busier in the store (for conversation `reservation`: holding
   * a slot for it); undefined when every one is full. Throws StoreUnavailable when the store does not answer.
   */
  async acquire(workers: Registration[], reservation?: string): Promise<Registration | undefined> {
    for (let attempt = 0; attempt < attempts; attempt++) {
      const views = await this.load.read(workers.map((worker) => worker.endpoint));
      const best = this.choose(workers, views);
      if (best === undefined) return undefined;
      // Counted as picked before the write, so that this Agent's concurrent picks spread over equals.
      this.lastPicked.set(workers[best].endpoint, this.picks++);
      const { slots } = workers[best];
      if (await (reservation === undefined ? this.load.take(views[best], slots) : this.load.reserve(views[best], slots, reservation, this.reservationTtlMs))) {
        return workers[best];
      }
    }
    return undefined;
  }

  release(endpoint: string) {
    this.load.release(endpoint);
  }

  /** READY (a slot is held for this conversation), BUSY (every worker is full) or NOMACHINE (no worker). */
  async reserve(name: string, historyId: string, userId: string, workers: Registration[]): Promise<"READY" | "BUSY" | "NOMACHINE"> {
    if (workers.length === 0) return "NOMACHINE";
    const id = Balancer.id(name, historyId, userId);
    const key = Balancer.reservationPrefix + id;
    if ((await this.store.get(key)) !== null) return "READY";
    const worker = await this.acquire(workers, id);
    if (!worker) return "BUSY";
    // A second schedule of the same conversation may have raced this one: keep one slot.
    if (!(await this.store.set(key, worker.endpoint, { ttlMs: this.reservationTtlMs, ifAbsent: true }))) await this.load.cancel(worker.endpoint, id);
    return "READY";
  }

  /**
   * Hands the slot reserved for this conversation to a completion (the load stays until `release`); undefined when
   * there is none, or its worker is no longer among `workers`.
   */
  async claim(name: string, historyId: string, userId: string, workers: Registration[]): Promise<string | undefined> {
    const id = Balancer.id(name, historyId, userId);
    const key = Balancer.reservationPrefix + id;
    const endpoint = await this.store.get<string>(key);
    if (endpoint === null) return undefined;
    await this.store.delete(key);
    if (!workers.some((worker) => worker.endpoint === endpoint)) {
      await this.load.cancel(endpoint, id);
      return undefined;
    }
    return (await this.load.claim(endpoint, id)) ? endpoint : undefined;
  }

  /** Drops the reservations of these conversations, for `chat/abort`; how many there were. */
  async cancelHistories(historyIds: Set<string>, userId: string): Promise<number> {
    let count = 0;
    for (const { key, value: endpoint } of await this.store.scan<string>(Balancer.reservationPrefix)) {
      const id = key.slice(Balancer.reservationPrefix.length);
      const [, historyId, user] = JSON.parse(id) as string[];
      if (!historyIds.has(historyId) || user !== userId) continue;
      await this.store.delete(key);
      if (await this.load.cancel(endpoint, id)) count++;
    }
    return count;
  }

  /** Forgets a worker that is gone (a reservation on it is dropped when it is claimed, or lapses). */
  forget(endpoint: string) {
    this.lastPicked.delete(endpoint);
    void this.load.forget(endpoint);
  }

  /** Gives back every slot this Agent holds (reservations stay for any Agent to claim). */
  async stop() {
    await this.load.stop();
  }
}
