/**
 * Each worker's load, shared by every Agent on the store. Under `load:<endpoint>` each Agent has one entry,
 * `{ [agentId]: { n, until } }`: the conversations it holds on that worker (streaming or reserved), valid until
 * `until` (wall clock, ms). An Agent renews its entries every third of `leaseMs`; an entry past `until` does not
 * count, so the slots of an Agent that died come back within the lease. Every write is a compare-and-set of the
 * whole value, so two Agents racing for a worker's last slot cannot both take it.
 *
 * `held` is what this Agent really holds. Its writes for one worker run one after another, each writing `held` as it
 * is then, so a write that failed (store away) is made good by the next one, at the latest by the heartbeat.
 */
import type { Logger } from "../../../core/log.ts";
import type { Store } from "../../../core/store/store.ts";

interface Entry {
  n: number;
  until: number;
}

type Board = Record<string, Entry>;

/** A worker's load as read: the stored value (for the compare-and-set) and the conversations on it now. */
export interface LoadView {
  endpoint: string;
  board: Board | null;
  load: number;
  /** When it was read, on this Agent's write counter: a write of its own after that makes `board` stale. */
  readAt: number;
}

const prefix = "load:";
const keyOf = (endpoint: string) => `${prefix}${encodeURIComponent(endpoint)}`;
/** Compare-and-set attempts of one write before it gives up (each failure means another Agent wrote meanwhile). */
const attempts = 8;

const isBoard = (value: unknown): value is Board => typeof value === "object" && value !== null && !Array.isArray(value);
const isEntry = (entry: unknown): entry is Entry =>
  typeof entry === "object" && entry !== null && typeof (entry as Entry).n === "number" && typeof (entry as Entry).until === "number";

export class WorkerLoad {
  private readonly held = new Map<string, number>();
  /** The last value this Agent wrote under each worker's key, and when (`seq`): the expected value of its next write. */
  private readonly written = new Map<string, { board: Board | null; at: number }>();
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Workers whose stored entry may differ from `held` after a failed write. */
  private readonly unsynced = new Set<string>();
  private seq = 0;
  private heartbeat?: Timer;
  private beating?: Promise<unknown>;

  constructor(
    private readonly store: Store,
    readonly agentId: string,
    private readonly leaseMs: number,
    private readonly log: Logger,
  ) {}

  /** Conversations of other Agents whose entries are still valid. */
  private others(board: Board | null, now: number): number {
    let count = 0;
    if (isBoard(board)) {
      for (const [id, entry] of Object.entries(board)) if (id !== this.agentId && isEntry(entry) && entry.until > now) count += entry.n;
    }
    return count;
  }

  /** `board` with this Agent's entry set to `n`, others' lapsed entries dropped; null when nothing is left. */
  private next(board: Board | null, n: number, now: number): Board | null {
    const next: Board = {};
    if (isBoard(board)) {
      for (const [id, entry] of Object.entries(board)) if (id !== this.agentId && isEntry(entry) && entry.until > now && entry.n > 0) next[id] = entry;
    }
    if (n > 0) next[this.agentId] = { n, until: now + this.leaseMs };
    return Object.keys(next).length ? next : null;
  }

  /** Runs `task` after every earlier write of this worker's entry. */
  private inOrder<T>(endpoint: string, task: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(endpoint) ?? Promise.resolve()).then(task);
    const tail = run.catch(() => {});
    this.queues.set(endpoint, tail);
    void tail.then(() => {
      if (this.queues.get(endpoint) === tail) this.queues.delete(endpoint);
    });
    return run;
  }

  /** Writes `n` over `expected`; true when the value was still `expected`. */
  private async write(endpoint: string, expected: Board | null, n: number): Promise<boolean> {
    const board = this.next(expected, n, Date.now());
    let swapped: boolean;
    try {
      swapped = await this.store.compareAndSet(keyOf(endpoint), expected, board, { ttlMs: this.leaseMs });
    } catch (error) {
      // The write may or may not have happened: the heartbeat writes the truth once the store answers.
      this.written.delete(endpoint);
      this.markUnsynced(endpoint, error);
      throw error;
    }
    if (swapped) this.written.set(endpoint, { board, at: ++this.seq });
    return swapped;
  }

  private markUnsynced(endpoint: string, error: unknown) {
    if (!this.unsynced.has(endpoint)) this.log.warn("cannot write a worker's load to the store; retrying with the heartbeat", { endpoint, error: (error as Error).message });
    this.unsynced.add(endpoint);
  }

  /** The expected value of a write: this Agent's last write when it is newer than `view`, else what was read. */
  private expected(endpoint: string, view?: LoadView): Board | null | undefined {
    const written = this.written.get(endpoint);
    if (view && (!written || written.at <= view.readAt)) return view.board;
    return written?.board;
  }

  heldOn(endpoint: string): number {
    return this.held.get(endpoint) ?? 0;
  }

  /** The load of each worker; throws StoreUnavailable when the store does not answer. */
  async read(endpoints: string[]): Promise<LoadView[]> {
    const readAt = this.seq;
    const boards = await Promise.all(endpoints.map((endpoint) => this.store.get<Board>(keyOf(endpoint))));
    const now = Date.now();
    return endpoints.map((endpoint, i) => ({ endpoint, board: boards[i], load: this.others(boards[i], now) + this.heldOn(endpoint), readAt }));
  }

  /**
   * One more conversation on the worker read in `view`, unless that fills more than its `slots`; false when it is full
   * or another Agent wrote since the read (read again).
   */
  take(view: LoadView, slots: number): Promise<boolean> {
    return this.inOrder(view.endpoint, async () => {
      const expected = this.expected(view.endpoint, view) ?? null;
      const held = this.heldOn(view.endpoint);
      if (this.others(expected, Date.now()) + held >= slots) return false;
      if (!(await this.write(view.endpoint, expected, held + 1))) return false;
      this.held.set(view.endpoint, this.heldOn(view.endpoint) + 1);
      return true;
    });
  }

  /** One conversation on the worker ended. Never throws: a write that fails is retried by the heartbeat. */
  release(endpoint: string): void {
    const held = this.heldOn(endpoint);
    if (held === 0) return;
    this.held.set(endpoint, held - 1);
    void this.sync(endpoint);
  }

  /** Drops everything this Agent holds on a worker that is gone. */
  forget(endpoint: string): Promise<void> {
    if (!this.held.has(endpoint) && !this.unsynced.has(endpoint)) return Promise.resolve();
    this.held.set(endpoint, 0);
    return this.sync(endpoint);
  }

  /** Writes `held` (renewing the entry's lease) for one worker; a failure leaves it to the next heartbeat. */
  private sync(endpoint: string): Promise<void> {
    return this.inOrder(endpoint, async () => {
      const key = keyOf(endpoint);
      let expected = this.expected(endpoint);
      if (expected === undefined) expected = await this.store.get<Board>(key);
      for (let attempt = 1; ; attempt++) {
        const held = this.heldOn(endpoint);
        if (held === 0 && !(isBoard(expected) && this.agentId in expected)) break;
        if (await this.write(endpoint, expected, held)) break;
        if (attempt === attempts) throw new Error(`the load of ${endpoint} changed ${attempts} times while this Agent wrote it`);
        expected = await this.store.get<Board>(key);
      }
      this.unsynced.delete(endpoint);
      if (this.heldOn(endpoint) === 0) {
        this.held.delete(endpoint);
        this.written.delete(endpoint);
      }
    }).catch((error) => this.markUnsynced(endpoint, error));
  }

  /**
   * Renews this Agent's entries every third of the lease. With a fixed `agentId`, first drops the entries a previous
   * run under that id left (it held nothing it knows of), so that their slots come back at once.
   */
  async start(): Promise<void> {
    try {
      for (const { key, value } of await this.store.scan<Board>(prefix)) {
        if (isBoard(value) && this.agentId in value) this.unsynced.add(decodeURIComponent(key.slice(prefix.length)));
      }
    } catch (error) {
      this.log.warn("cannot read the workers' load from the store", { error: (error as Error).message });
    }
    await Promise.all([...this.unsynced].map((endpoint) => this.sync(endpoint)));
    this.heartbeat = setInterval(() => {
      this.beating ??= Promise.all([...new Set([...this.held.keys(), ...this.unsynced])].map((endpoint) => this.sync(endpoint))).finally(() => (this.beating = undefined));
    }, Math.max(1, Math.floor(this.leaseMs / 3)));
    this.heartbeat.unref?.();
  }

  /** Gives back everything this Agent holds, so that other Agents may use those slots at once. */
  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.beating;
    const endpoints = [...new Set([...this.held.keys(), ...this.unsynced])];
    for (const endpoint of endpoints) this.held.set(endpoint, 0);
    await Promise.all(endpoints.map((endpoint) => this.sync(endpoint)));
  }
}
