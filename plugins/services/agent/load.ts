/**
 * Each worker's load, shared by every Agent on the store. Under `load:<endpoint>` each Agent has one entry,
 * `{ [agentId]: { n, until } }`: the conversations it streams through that worker, valid until `until` (wall clock,
 * ms). An Agent renews its entries every third of `leaseMs`; an entry past `until` does not count, so the slots of an
 * Agent that died come back within the lease. A `worker/schedule` reservation is an entry of its own
 * (`reserved <conversation>`, n 1, until its expiry), so that any Agent may claim it: the claim moves it into the
 * claiming Agent's entry. Every write is a compare-and-set of the whole value, so two Agents racing for a worker's last
 * slot cannot both take it.
 *
 * `held` is what this Agent really holds. Its writes for one worker run one at a time, each writing `held` as it is
 * then, so a write that failed (store away) is made good by the next one, at the latest by the heartbeat. Whatever
 * was asked while a write ran goes into the next one together (every take waiting, every release), so that many
 * conversations on one worker cost one store round trip per write, not one each in a queue.
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
const keys = new Map<string, string>();
const keyOf = (endpoint: string) => {
  let key = keys.get(endpoint);
  if (key === undefined) {
    if (keys.size > 10_000) keys.clear();
    keys.set(endpoint, (key = `${prefix}${encodeURIComponent(endpoint)}`));
  }
  return key;
};
/** Compare-and-set attempts of one write before it gives up (each failure means another Agent wrote meanwhile). */
const attempts = 8;

const isBoard = (value: unknown): value is Board => typeof value === "object" && value !== null && !Array.isArray(value);
const isEntry = (entry: unknown): entry is Entry =>
  typeof entry === "object" && entry !== null && typeof (entry as Entry).n === "number" && typeof (entry as Entry).until === "number";

/** What a write does besides bringing this Agent's entry up to `held`; each op is granted or not. */
type Op =
  | { kind: "take"; view: LoadView; slots: number }
  | { kind: "reserve"; view: LoadView; slots: number; id: string; ttlMs: number }
  | { kind: "claim"; id: string }
  | { kind: "cancel"; id: string };

interface Pending {
  op: Op;
  settle(granted: boolean): void;
  fail(error: unknown): void;
}

const reservedEntry = (id: string) => `reserved ${id}`;

export class WorkerLoad {
  private readonly held = new Map<string, number>();
  /** The last value this Agent wrote under each worker's key, and when (`seq`): the expected value of its next write. */
  private readonly written = new Map<string, { board: Board | null; at: number }>();
  /** Ops waiting for the next write of each worker's entry. */
  private readonly pending = new Map<string, Pending[]>();
  /** Workers whose entry the next write must bring up to `held` (a release, a renewal). */
  private readonly dirty = new Set<string>();
  private readonly writing = new Map<string, Promise<void>>();
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

  /** Others' entries in `board` that are still valid (a copy). */
  private live(board: Board | null, now: number): Board {
    const next: Board = {};
    if (isBoard(board)) {
      for (const [id, entry] of Object.entries(board)) if (id !== this.agentId && isEntry(entry) && entry.until > now && entry.n > 0) next[id] = entry;
    }
    return next;
  }

  private markUnsynced(endpoint: string, error: unknown) {
    if (!this.unsynced.has(endpoint)) this.log.warn("cannot write a worker's load to the store; retrying with the heartbeat", { endpoint, error: (error as Error).message });
    this.unsynced.add(endpoint);
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

  private enqueue(endpoint: string, op: Op): Promise<boolean> {
    const granted = new Promise<boolean>((settle, fail) => {
      const waiting = this.pending.get(endpoint);
      if (waiting) waiting.push({ op, settle, fail });
      else this.pending.set(endpoint, [{ op, settle, fail }]);
    });
    void this.flush(endpoint);
    return granted;
  }

  /**
   * One more conversation on the worker read in `view`, unless that fills more than its `slots`; false when it is full.
   * Throws StoreUnavailable when the store does not answer.
   */
  take(view: LoadView, slots: number): Promise<boolean> {
    return this.enqueue(view.endpoint, { kind: "take", view, slots });
  }

  /** A slot on the worker read in `view` held for conversation `id` for `ttlMs`, unless it is full (true when already held). */
  reserve(view: LoadView, slots: number, id: string, ttlMs: number): Promise<boolean> {
    return this.enqueue(view.endpoint, { kind: "reserve", view, slots, id, ttlMs });
  }

  /** Turns the reservation `id` on the worker into a conversation of this Agent; false when it is gone (lapsed, claimed). */
  claim(endpoint: string, id: string): Promise<boolean> {
    return this.enqueue(endpoint, { kind: "claim", id });
  }

  /** Drops the reservation `id` on the worker; false when it was gone. */
  cancel(endpoint: string, id: string): Promise<boolean> {
    return this.enqueue(endpoint, { kind: "cancel", id });
  }

  /** One conversation on the worker ended. Never throws: a write that fails is retried by the heartbeat. */
  release(endpoint: string): void {
    const held = this.heldOn(endpoint);
    if (held === 0) return;
    this.held.set(endpoint, held - 1);
    this.dirty.add(endpoint);
    void this.flush(endpoint);
  }

  /** Drops everything this Agent holds on a worker that is gone. */
  forget(endpoint: string): Promise<void> {
    if (!this.held.has(endpoint) && !this.unsynced.has(endpoint)) return Promise.resolve();
    this.held.set(endpoint, 0);
    this.dirty.add(endpoint);
    return this.flush(endpoint);
  }

  /** Writes what is pending for one worker, one write at a time; resolves when nothing is left to write. */
  private flush(endpoint: string): Promise<void> {
    let running = this.writing.get(endpoint);
    if (!running) {
      running = this.writeAll(endpoint);
      this.writing.set(endpoint, running);
    }
    return running;
  }

  private async writeAll(endpoint: string): Promise<void> {
    await null; // starts once flush() has recorded this run
    try {
      while (this.dirty.has(endpoint) || this.pending.has(endpoint)) {
        const batch = this.pending.get(endpoint) ?? [];
        this.pending.delete(endpoint);
        const sync = this.dirty.delete(endpoint);
        try {
          await this.write(endpoint, batch, sync);
        } catch (error) {
          // The write may or may not have happened: the heartbeat writes the truth once the store answers.
          this.written.delete(endpoint);
          this.markUnsynced(endpoint, error);
          for (const pending of batch) pending.fail(error);
        }
      }
    } finally {
      // In the same step as the last check: whatever comes later starts a new run.
      this.writing.delete(endpoint);
    }
  }

  /** One compare-and-set of the worker's entries: this Agent's brought up to `held`, and as many of `batch` as fit. */
  private async write(endpoint: string, batch: Pending[], sync: boolean): Promise<void> {
    const key = keyOf(endpoint);
    const written = this.written.get(endpoint);
    let freshest: LoadView | undefined;
    for (const { op } of batch) if ((op.kind === "take" || op.kind === "reserve") && (!freshest || op.view.readAt > freshest.readAt)) freshest = op.view;
    let expected = freshest && (!written || written.at <= freshest.readAt) ? freshest.board : written?.board;
    // A reservation is another Agent's write as a rule: what this Agent wrote last says nothing about it.
    if (expected === undefined || batch.some(({ op }) => op.kind === "claim" || op.kind === "cancel")) expected = await this.store.get<Board>(key);
    for (let attempt = 1; ; attempt++) {
      const now = Date.now();
      const held = this.heldOn(endpoint);
      const board = this.live(expected, now);
      let room = Infinity;
      for (const { op } of batch) if (op.kind === "take" || op.kind === "reserve") room = Math.min(room, op.slots);
      for (const entry of Object.values(board)) room -= entry.n;
      room -= held;
      let mine = held;
      let changed = false;
      const granted = batch.map(({ op }) => {
        const reserved = op.kind === "take" ? "" : reservedEntry(op.id);
        if (op.kind === "reserve" && board[reserved]) return true;
        if (op.kind === "take" || op.kind === "reserve") {
          if (room <= 0) return false;
          room--;
          if (op.kind === "take") mine++;
          else board[reserved] = { n: 1, until: now + op.ttlMs };
        } else {
          if (!board[reserved]) return false;
          delete board[reserved];
          if (op.kind === "claim") mine++;
        }
        return (changed = true);
      });
      const stored = isBoard(expected) && this.agentId in expected;
      if (!changed && !(sync && (held > 0 || stored))) {
        batch.forEach((pending, i) => pending.settle(granted[i]));
        break;
      }
      if (mine > 0) board[this.agentId] = { n: mine, until: now + this.leaseMs };
      const next = Object.keys(board).length ? board : null;
      // The key lives as long as its longest entry (a reservation may outlive every lease).
      const ttlMs = Math.max(1, ...Object.values(board).map((entry) => entry.until - now));
      if (await this.store.compareAndSet(key, expected, next, { ttlMs })) {
        this.written.set(endpoint, { board: next, at: ++this.seq });
        this.held.set(endpoint, this.heldOn(endpoint) + mine - held);
        batch.forEach((pending, i) => pending.settle(granted[i]));
        break;
      }
      if (attempt === attempts) throw new Error(`the load of ${endpoint} changed ${attempts} times while this Agent wrote it`);
      expected = await this.store.get<Board>(key);
    }
    if (sync) this.unsynced.delete(endpoint);
    if (this.heldOn(endpoint) === 0 && !this.unsynced.has(endpoint)) this.held.delete(endpoint);
  }

  /** Brings every worker's entry this Agent has or may have up to `held`, renewing its lease. */
  private syncAll(): Promise<unknown> {
    const endpoints = new Set([...this.held.keys(), ...this.unsynced]);
    for (const endpoint of endpoints) this.dirty.add(endpoint);
    return Promise.all([...endpoints].map((endpoint) => this.flush(endpoint)));
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
    await this.syncAll();
    this.heartbeat = setInterval(() => {
      this.beating ??= this.syncAll().finally(() => (this.beating = undefined));
    }, Math.max(1, Math.floor(this.leaseMs / 3)));
    this.heartbeat.unref?.();
  }

  /** Gives back everything this Agent holds, so that other Agents may use those slots at once. */
  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.beating;
    for (const endpoint of this.held.keys()) this.held.set(endpoint, 0);
    await this.syncAll();
  }
}
