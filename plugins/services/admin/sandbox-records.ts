/**
 * The record of every sandbox: its spec, where it ran and where its rocklet answers, its state and state history, the
 * admin running its start, and what the E2B API added to it. Admins that share a store share the records: the store
 * holds the truth (`record:{id}`, JSON with a `version` that every change bumps, written by compare-and-set, so that
 * no change is lost and no sandbox is created twice), and every admin writes each record it changes through to its
 * own SQLite (same table as before), from which it puts the records back when the store lost them. `active:{id}` lists
 * the active ones (set before a record becomes active, removed after it ended), so that a pass reads only those. The hot copy of
 * an active sandbox lives in the store too (`live-sandboxes.ts`) and is rebuilt from the record.
 */
import type { Database } from "bun:sqlite";
import { StoreUnavailable } from "../../../core/errors.ts";
import type { SandboxSpec } from "../../../core/kinds/deployment.ts";
import type { Store } from "../../../core/store/store.ts";
import type { StateTransition } from "../../protocol/rock-admin/results.ts";
import { HISTORY_LIMIT, isActive, nextState, type SandboxEvent, type SandboxState } from "../../protocol/rock-admin/states.ts";

/** What the E2B API adds to a sandbox (see e2b/e2b-records.ts). */
export interface E2bPart {
  template_id: string;
  metadata: Record<string, string>;
  env_vars: Record<string, string>;
  /** envd's access token the SDK presents (kept server-side like the rocklet's token). */
  access_token: string;
  /** E2B's `lifecycle.onTimeout`: at its timeout the sandbox is killed, or paused (`autoPause`); absent: kill. */
  on_timeout?: "kill" | "pause";
  /** E2B's `lifecycle.autoResume`: a data-plane call to the paused sandbox resumes it; absent: false. */
  auto_resume?: boolean;
}

export interface SandboxRecord {
  sandbox_id: string;
  state: SandboxState;
  spec: SandboxSpec;
  /** Request fields echoed in status responses (memory text, disk, user/experiment/namespace, …). */
  meta: Record<string, unknown>;
  host_ip: string | null;
  host_name: string | null;
  port_mapping: Record<string, number>;
  state_history: StateTransition[];
  create_time: string;
  start_time: string | null;
  stop_time: string | null;
  delete_time: string | null;
  /** Why the sandbox stopped by itself (event `fail`); null otherwise, and again after a restart. */
  failure_reason: string | null;
  /** Where the rocklet answers and the token it takes (never sent to clients); null until placed. */
  rocklet_url: string | null;
  rocklet_token: string | null;
  /** The `Idempotency-Key` the start was sent with, if any, and the start's request as compared for retries (JSON). */
  idempotency_key: string | null;
  start_request: string | null;
  /** Bumped by every change: of two copies with the same `create_time`, the higher is the newer. */
  version: number;
  /** The admin that runs (or ran) the sandbox's latest start or restart. */
  admin_id: string | null;
  e2b: E2bPart | null;
}

export interface RecordOptions {
  /** This admin among those sharing the store. */
  adminId: string;
  /** How long the record of an ended sandbox is kept (store TTL, and its local copy). */
  retentionMs: number;
}

/** Times a change is computed again because another admin changed the record meanwhile. */
const CAS_ATTEMPTS = 50;

const timeColumn: Partial<Record<SandboxState, "start_time" | "stop_time" | "delete_time">> = { running: "start_time", stopped: "stop_time", deleted: "delete_time" };

const columns = [
  "sandbox_id", "state", "spec", "meta", "host_ip", "host_name", "port_mapping", "state_history", "create_time", "start_time", "stop_time",
  "delete_time", "failure_reason", "rocklet_url", "rocklet_token", "idempotency_key", "start_request", "version", "admin_id", "e2b",
] as const;
const jsonColumns = new Set(["spec", "meta", "port_mapping", "state_history", "e2b"]);

/** Whether copy `a` of a record is newer than `b`: a later sandbox of the id, or a later change of the same one. */
export function newer(a: SandboxRecord, b: SandboxRecord): boolean {
  return a.create_time > b.create_time || (a.create_time === b.create_time && a.version > b.version);
}

export class SandboxRecords {
  /** Ids whose last change is only in the local copy (the store was unavailable): pushed by `sync`. */
  private readonly unsynced = new Set<string>();
  private seeded = false;
  /** When this admin found that the store lost its data while it ran. */
  private lostAt = -Infinity;
  private prunedAt = 0;

  constructor(
    private readonly db: Database,
    private readonly store: Store,
    readonly options: RecordOptions,
  ) {
    db.run(`CREATE TABLE IF NOT EXISTS sandboxes (
      sandbox_id TEXT PRIMARY KEY, state TEXT NOT NULL, spec TEXT NOT NULL, meta TEXT NOT NULL,
      host_ip TEXT, host_name TEXT, port_mapping TEXT NOT NULL DEFAULT '{}', state_history TEXT NOT NULL DEFAULT '[]',
      create_time TEXT NOT NULL, start_time TEXT, stop_time TEXT, delete_time TEXT, failure_reason TEXT,
      rocklet_url TEXT, rocklet_token TEXT, idempotency_key TEXT, start_request TEXT, version INTEGER NOT NULL DEFAULT 0, admin_id TEXT, e2b TEXT)`);
    // Data dirs of earlier versions lack these columns.
    const present = db.query(`PRAGMA table_info(sandboxes)`).all() as { name: string }[];
    for (const column of ["failure_reason", "rocklet_url", "rocklet_token", "idempotency_key", "start_request", "admin_id", "e2b"]) {
      if (!present.some((c) => c.name === column)) db.run(`ALTER TABLE sandboxes ADD COLUMN ${column} TEXT`);
    }
    if (!present.some((c) => c.name === "version")) db.run(`ALTER TABLE sandboxes ADD COLUMN version INTEGER NOT NULL DEFAULT 0`);
    // Earlier versions kept the E2B part in a table of its own, tied to the record's create_time.
    if (db.query(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'e2b_sandboxes'`).get()) {
      db.run(`UPDATE sandboxes SET e2b = json_object('template_id', e.template_id, 'metadata', json(e.metadata), 'env_vars', json(e.env_vars),
        'access_token', e.access_token) FROM e2b_sandboxes e WHERE e.sandbox_id = sandboxes.sandbox_id AND e.record_created = sandboxes.create_time`);
      db.run(`DROP TABLE e2b_sandboxes`);
    }
  }

  private key(sandbox_id: string): string {
    return `record:${sandbox_id}`;
  }

  /**
   * A new pending sandbox, unless a record of the same id is pending or running (then null: the id is taken). Replaces
   * an earlier record of the same id that ended (ids are reusable once stopped). Of two admins creating one id at
   * once, exactly one gets the record.
   */
  async create(spec: SandboxSpec, meta: Record<string, unknown>, start: { idempotencyKey?: string; request?: string } = {}): Promise<SandboxRecord | null> {
    const record: SandboxRecord = {
      sandbox_id: spec.sandbox_id,
      state: "pending",
      spec,
      meta,
      host_ip: null,
      host_name: null,
      port_mapping: {},
      state_history: [],
      create_time: new Date().toISOString(),
      start_time: null,
      stop_time: null,
      delete_time: null,
      failure_reason: null,
      rocklet_url: null,
      rocklet_token: null,
      idempotency_key: start.idempotencyKey ?? null,
      start_request: start.request ?? null,
      version: 1,
      admin_id: this.options.adminId,
      e2b: null,
    };
    const key = this.key(spec.sandbox_id);
    await this.listActive(spec.sandbox_id, true);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const current = await this.get(spec.sandbox_id);
      if (current && isActive(current.state)) return null;
      record.version = (current?.version ?? 0) + 1;
      const written = current ? await this.store.compareAndSet(key, current, record) : await this.store.set(key, record, { ifAbsent: true });
      if (!written) continue;
      // The ended record it replaced had a time to live; an active one has none.
      if (current) await this.store.expire(key, null);
      this.copy(record);
      return record;
    }
    throw contended(spec.sandbox_id);
  }

  /**
   * Claims `key` (an `Idempotency-Key`) for a start of `sandbox_id` for `windowMs`: null when claimed, else the record
   * of the sandbox an earlier start with that key made. A key claimed by a start whose record never appeared (its
   * admin died in between), or whose sandbox id was reused since, is taken over.
   */
  async claimKey(key: string, sandbox_id: string, windowMs: number): Promise<SandboxRecord | null> {
    const name = `idempotency:${key}`;
    for (let waited = 0; ; ) {
      if (await this.store.set(name, sandbox_id, { ifAbsent: true, ttlMs: windowMs })) return null;
      const named = await this.store.get<string>(name);
      if (named === null) continue;
      const record = await this.get(named);
      if (record?.idempotency_key === key) return record;
      // The claim of a start that is writing its record now: it appears within milliseconds.
      if (!record && waited < KEY_CLAIM_WAIT_MS) {
        await Bun.sleep(20);
        waited += 20;
        continue;
      }
      if (await this.store.compareAndSet(name, named, sandbox_id, { ttlMs: windowMs })) return null;
    }
  }

  /** Lets go of a key claimed for a start that made no sandbox. */
  async releaseKey(key: string, sandbox_id: string): Promise<void> {
    await this.store.compareAndSet(`idempotency:${key}`, sandbox_id, null);
  }

  /** The spec a restart will run (a fresh rocklet token), recorded before its instance exists. */
  async respec(spec: SandboxSpec): Promise<void> {
    await this.update(spec.sandbox_id, (record) => ({ ...record, spec }));
  }

  /** The record in the store; one the store lost is put back from this admin's copy, if it has one. */
  async get(sandbox_id: string): Promise<SandboxRecord | null> {
    return (await this.store.get<SandboxRecord>(this.key(sandbox_id))) ?? this.restore(sandbox_id);
  }

  private async restore(sandbox_id: string): Promise<SandboxRecord | null> {
    const copy = this.local(sandbox_id);
    if (!copy) return null;
    await this.push(copy);
    return this.store.get<SandboxRecord>(this.key(sandbox_id));
  }

  /** Records still pending or running, oldest first. */
  async active(): Promise<SandboxRecord[]> {
    await this.seedIfLost();
    const listed = await this.store.scan<number>("active:");
    const found = await Promise.all(listed.map(({ key }) => this.store.get<SandboxRecord>(this.key(key.slice("active:".length)))));
    const records: SandboxRecord[] = [];
    for (const [i, record] of found.entries()) {
      if (record && isActive(record.state)) records.push(record);
      // An entry left by a change the store did not see the end of; a young one may be a start writing its record now.
      else if (Date.now() - listed[i].value > STALE_ENTRY_MS) await this.store.compareAndSet(listed[i].key, listed[i].value, null);
    }
    return records.sort((a, b) => (a.create_time < b.create_time ? -1 : a.create_time > b.create_time ? 1 : 0));
  }

  /** Active sandboxes with the fields the list route filters on (never the rocklet's address or token), and their records. */
  async listed(): Promise<
    { sandbox_id: string; state: SandboxState; image: string; user_id: string; experiment_id: string; namespace: string; host_ip: string; host_name: string; record: SandboxRecord }[]
  > {
    return (await this.active()).map((r) => ({
      sandbox_id: r.sandbox_id,
      state: r.state,
      image: r.spec.image,
      user_id: String(r.meta.user_id ?? "default"),
      experiment_id: String(r.meta.experiment_id ?? "default"),
      namespace: String(r.meta.namespace ?? "default"),
      host_ip: r.host_ip ?? "",
      host_name: r.host_name ?? "",
      record: r,
    }));
  }

  /**
   * Where a pending sandbox's instance runs and its rocklet answers; null when it is no longer pending (a stop, here or
   * on another admin, took it over).
   */
  async placed(
    sandbox_id: string,
    where: { host_ip: string; host_name: string; port_mapping: Record<string, number>; rocklet_url: string; rocklet_token: string; spec?: SandboxSpec; isolation?: string },
  ): Promise<SandboxRecord | null> {
    return this.update(sandbox_id, (record) => {
      if (record.state !== "pending") return null;
      const { spec, isolation, ...place } = where;
      // In meta, which status responses echo; a restart on another deployment may not say, so it is cleared then. A new
      // instance is not paused, whatever its predecessor was.
      return { ...record, ...place, spec: spec ?? record.spec, meta: { ...record.meta, isolation: isolation ?? null, paused: false } };
    });
  }

  /** Whether the running sandbox's processes are frozen (E2B's pause), in meta; false when it was so already. */
  async setPaused(sandbox_id: string, paused: boolean): Promise<boolean> {
    return (await this.update(sandbox_id, (record) => (isPaused(record) === paused ? null : { ...record, meta: { ...record.meta, paused } }))) !== null;
  }

  /** Sets the E2B part of the sandbox `create_time` names, unless it has one; the part it has then (null: another sandbox holds the id now). */
  async withE2b(sandbox_id: string, create_time: string, part: E2bPart): Promise<E2bPart | null> {
    const record = await this.update(sandbox_id, (r) => (r.create_time === create_time && !r.e2b ? { ...r, e2b: part } : null));
    if (record) return record.e2b;
    const current = await this.get(sandbox_id);
    return current?.create_time === create_time ? current.e2b : null;
  }

  /**
   * Applies `event` when the record's state allows it and returns the updated record; null when it does not (the
   * caller decides whether that is an error or a no-op). `failureReason` goes with the `fail` event. With `offline`,
   * a store that cannot be reached does not stop it: the change is made in this admin's copy and written to the store
   * once it answers again (`sync`).
   */
  async transition(sandbox_id: string, event: SandboxEvent, failureReason: string | null = null, offline = false): Promise<SandboxRecord | null> {
    const change = (record: SandboxRecord): SandboxRecord | null => {
      const to = nextState(record.state, event);
      if (!to) return null;
      const now = new Date().toISOString();
      const next: SandboxRecord = { ...record, state: to, state_history: [...record.state_history, { from_state: record.state, to_state: to, event, timestamp: now }].slice(-HISTORY_LIMIT) };
      if (event === "restart") Object.assign(next, { start_time: null, stop_time: null, failure_reason: null, admin_id: this.options.adminId });
      if (event === "fail") next.failure_reason = failureReason;
      const column = timeColumn[to];
      if (column) next[column] = now;
      return next;
    };
    try {
      return await this.update(sandbox_id, change);
    } catch (error) {
      if (!offline || !(error instanceof StoreUnavailable)) throw error;
      const copy = this.local(sandbox_id);
      const next = copy && change(copy);
      if (!next) return null;
      next.version++;
      this.copy(next);
      this.unsynced.add(sandbox_id);
      return next;
    }
  }

  /**
   * Writes the changes the store could not take when they were made (see `transition`); the ids written. A copy the
   * store has a newer version of by now is left.
   */
  async sync(): Promise<string[]> {
    const done: string[] = [];
    for (const sandbox_id of [...this.unsynced]) {
      const copy = this.local(sandbox_id);
      if (copy) await this.push(copy);
      this.unsynced.delete(sandbox_id);
      done.push(sandbox_id);
    }
    return done;
  }

  /**
   * Puts this admin's copies back where the store lost them (Redis restarted without its data, or the embedded store
   * after a restart): a record the store lacks is written, one it holds an older version of is replaced. A marker per
   * admin tells whether this store has seen this admin's copies since it last lost its data.
   */
  async seedIfLost(): Promise<boolean> {
    if (Date.now() - this.prunedAt > PRUNE_EVERY_MS) this.prune();
    const marker = `seeded:${this.options.adminId}`;
    if (await this.store.get(marker)) return false;
    if (this.seeded) this.lostAt = Date.now();
    this.seeded = true;
    this.prune();
    for (const row of this.db.query(`SELECT * FROM sandboxes`).all() as Record<string, any>[]) await this.push(decode(row));
    await this.store.set(marker, true);
    return true;
  }

  /** Whether the store lost its data less than `ms` ago (the other admins may not have put their records back yet). */
  lostWithin(ms: number): boolean {
    return Date.now() - this.lostAt < ms;
  }

  /** Writes a copy to the store unless the store holds it or a newer one; with its idempotency key while that lasts. */
  private async push(copy: SandboxRecord): Promise<void> {
    const ttlMs = this.ttlOf(copy);
    if (ttlMs !== undefined && ttlMs <= 0) return;
    const key = this.key(copy.sandbox_id);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const current = await this.store.get<SandboxRecord>(key);
      if (current && !newer(copy, current)) break;
      const options = ttlMs === undefined ? undefined : { ttlMs };
      if (isActive(copy.state)) await this.listActive(copy.sandbox_id, true);
      if (current ? await this.store.compareAndSet(key, current, copy, options) : await this.store.set(key, copy, { ...options, ifAbsent: true })) {
        if (current && ttlMs === undefined) await this.store.expire(key, null);
        if (!isActive(copy.state)) await this.listActive(copy.sandbox_id, false);
        break;
      }
    }
    const keyLeft = copy.idempotency_key ? Date.parse(copy.create_time) + IDEMPOTENCY_KEY_MS - Date.now() : 0;
    if (keyLeft > 0) await this.store.set(`idempotency:${copy.idempotency_key}`, copy.sandbox_id, { ifAbsent: true, ttlMs: keyLeft });
  }

  /**
   * Read, compute, compare-and-set, again while another admin changed the record meanwhile. `change` returns null to
   * leave the record as it is (then null is returned).
   */
  private async update(sandbox_id: string, change: (record: SandboxRecord) => SandboxRecord | null): Promise<SandboxRecord | null> {
    const key = this.key(sandbox_id);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const current = await this.get(sandbox_id);
      if (!current) return null;
      const next = change(structuredClone(current));
      if (!next) return null;
      next.version = current.version + 1;
      const ttlMs = this.ttlOf(next, true);
      if (isActive(next.state) && !isActive(current.state)) await this.listActive(sandbox_id, true);
      if (!(await this.store.compareAndSet(key, current, next, ttlMs === undefined ? undefined : { ttlMs }))) continue;
      // A restarted sandbox's record was an ended one, with a time to live.
      if (ttlMs === undefined && !isActive(current.state)) await this.store.expire(key, null);
      if (!isActive(next.state) && isActive(current.state)) await this.listActive(sandbox_id, false);
      this.copy(next);
      return next;
    }
    throw contended(sandbox_id);
  }

  /** Adds the sandbox to the list of active ones (valued with the time, see `active`), or removes it. */
  private async listActive(sandbox_id: string, active: boolean): Promise<void> {
    if (active) await this.store.set(`active:${sandbox_id}`, Date.now());
    else await this.store.delete(`active:${sandbox_id}`);
  }

  /** How long the store keeps the record: undefined (for ever) while active, else what is left of the retention. */
  private ttlOf(record: SandboxRecord, changed = false): number | undefined {
    if (isActive(record.state)) return undefined;
    const ended = Date.parse(record.state_history.at(-1)?.timestamp ?? record.create_time);
    const left = ended + this.options.retentionMs - Date.now();
    // A change to a record past its retention (a late write of a long-ended sandbox) keeps it a moment, not for ever.
    return changed ? Math.max(left, 1000) : left;
  }

  /** Drops local copies of sandboxes that ended longer ago than the retention. */
  private prune(): void {
    this.prunedAt = Date.now();
    const ended = new Date(Date.now() - this.options.retentionMs).toISOString();
    this.db.run(`DELETE FROM sandboxes WHERE state NOT IN ('pending', 'running') AND COALESCE(json_extract(state_history, '$[#-1].timestamp'), create_time) < ?`, [ended]);
  }

  /** This admin's copy of the record. */
  private local(sandbox_id: string): SandboxRecord | null {
    const row = this.db.query(`SELECT * FROM sandboxes WHERE sandbox_id = ?`).get(sandbox_id) as Record<string, any> | null;
    return row ? decode(row) : null;
  }

  /** The write-through to this admin's SQLite. */
  private copy(record: SandboxRecord): void {
    this.db.run(
      `INSERT OR REPLACE INTO sandboxes (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
      columns.map((c) => {
        const value = record[c];
        return jsonColumns.has(c) ? (value === null ? null : JSON.stringify(value)) : (value as string | number | null);
      }),
    );
  }
}

export function isPaused(record: SandboxRecord): boolean {
  return record.meta.paused === true;
}

/** How old an `active:{id}` entry without an active record must be before `active` removes it. */
const STALE_ENTRY_MS = 60_000;
/** How often the local copies of long-ended sandboxes are dropped. */
const PRUNE_EVERY_MS = 3600 * 1000;
/** How long a claimed `Idempotency-Key` waits for the record of the start that claimed it, before taking it over. */
const KEY_CLAIM_WAIT_MS = 2000;
/** How long an Idempotency-Key names its sandbox (Stripe keeps keys 24 hours). */
export const IDEMPOTENCY_KEY_MS = 24 * 3600 * 1000;

function contended(sandbox_id: string): Error {
  return new Error(`the record of sandbox ${sandbox_id} changed ${CAS_ATTEMPTS} times while this change was computed`);
}

function decode(row: Record<string, any>): SandboxRecord {
  const record: Record<string, unknown> = {};
  for (const column of columns) record[column] = jsonColumns.has(column) && row[column] !== null ? JSON.parse(row[column]) : (row[column] ?? null);
  record.version = Number(row.version ?? 0);
  return record as unknown as SandboxRecord;
}
