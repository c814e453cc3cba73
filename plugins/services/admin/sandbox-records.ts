/**
 * Durable record of every sandbox (SQLite): its spec, where it ran and where its rocklet answers, its state and state
 * history. The hot copy of an active sandbox lives in the store (`live-sandboxes.ts`); this table outlives it, and the
 * hot copy of a running sandbox is rebuilt from it when the store lost it.
 */
import type { Database } from "bun:sqlite";
import type { SandboxSpec } from "../../../core/kinds/deployment.ts";
import type { StateTransition } from "../../protocol/rock-admin/results.ts";
import { HISTORY_LIMIT, nextState, type SandboxEvent, type SandboxState } from "../../protocol/rock-admin/states.ts";

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
}

const timeColumn: Partial<Record<SandboxState, "start_time" | "stop_time" | "delete_time">> = { running: "start_time", stopped: "stop_time", deleted: "delete_time" };

export class SandboxRecords {
  constructor(private readonly db: Database) {
    db.run(`CREATE TABLE IF NOT EXISTS sandboxes (
      sandbox_id TEXT PRIMARY KEY, state TEXT NOT NULL, spec TEXT NOT NULL, meta TEXT NOT NULL,
      host_ip TEXT, host_name TEXT, port_mapping TEXT NOT NULL DEFAULT '{}', state_history TEXT NOT NULL DEFAULT '[]',
      create_time TEXT NOT NULL, start_time TEXT, stop_time TEXT, delete_time TEXT, failure_reason TEXT,
      rocklet_url TEXT, rocklet_token TEXT, idempotency_key TEXT, start_request TEXT)`);
    // Data dirs of earlier versions lack these columns.
    const columns = db.query(`PRAGMA table_info(sandboxes)`).all() as { name: string }[];
    for (const column of ["failure_reason", "rocklet_url", "rocklet_token", "idempotency_key", "start_request"]) {
      if (!columns.some((c) => c.name === column)) db.run(`ALTER TABLE sandboxes ADD COLUMN ${column} TEXT`);
    }
    db.run(`CREATE INDEX IF NOT EXISTS sandboxes_idempotency_key ON sandboxes (idempotency_key) WHERE idempotency_key IS NOT NULL`);
  }

  /**
   * A new pending sandbox, unless a record of the same id is pending or running (then null: the id is taken). Replaces
   * an earlier record of the same id that ended (ids are reusable once stopped). The check and the write are one
   * statement.
   */
  async create(spec: SandboxSpec, meta: Record<string, unknown>, start: { idempotencyKey?: string; request?: string } = {}): Promise<SandboxRecord | null> {
    const now = new Date().toISOString();
    const changed = this.db.run(
      `INSERT INTO sandboxes (sandbox_id, state, spec, meta, create_time, port_mapping, state_history, idempotency_key, start_request)
       VALUES (?, 'pending', ?, ?, ?, '{}', '[]', ?, ?)
       ON CONFLICT (sandbox_id) DO UPDATE SET state = 'pending', spec = excluded.spec, meta = excluded.meta, create_time = excluded.create_time,
         host_ip = NULL, host_name = NULL, port_mapping = '{}', state_history = '[]', start_time = NULL, stop_time = NULL, delete_time = NULL,
         failure_reason = NULL, rocklet_url = NULL, rocklet_token = NULL, idempotency_key = excluded.idempotency_key, start_request = excluded.start_request
       WHERE sandboxes.state NOT IN ('pending', 'running')`,
      [spec.sandbox_id, JSON.stringify(spec), JSON.stringify(meta), now, start.idempotencyKey ?? null, start.request ?? null],
    ).changes;
    return changed ? await this.get(spec.sandbox_id) : null;
  }

  /** The newest record started with `key` since `since` (ISO time), if any. */
  async byIdempotencyKey(key: string, since: string): Promise<SandboxRecord | null> {
    const row = this.db.query(`SELECT * FROM sandboxes WHERE idempotency_key = ? AND create_time >= ? ORDER BY create_time DESC LIMIT 1`).get(key, since) as Record<string, any> | null;
    return row ? decode(row) : null;
  }

  /** The spec a restart will run (a fresh rocklet token), recorded before its instance exists. */
  async respec(spec: SandboxSpec) {
    this.db.run(`UPDATE sandboxes SET spec = ? WHERE sandbox_id = ?`, [JSON.stringify(spec), spec.sandbox_id]);
  }

  async get(sandbox_id: string): Promise<SandboxRecord | null> {
    const row = this.db.query(`SELECT * FROM sandboxes WHERE sandbox_id = ?`).get(sandbox_id) as Record<string, any> | null;
    return row ? decode(row) : null;
  }

  /** Only the state (on every data-plane call: no JSON to decode). */
  async stateOf(sandbox_id: string): Promise<SandboxState | null> {
    return (this.db.query(`SELECT state FROM sandboxes WHERE sandbox_id = ?`).get(sandbox_id) as { state: SandboxState } | null)?.state ?? null;
  }

  /** Records still pending or running, oldest first. */
  async active(): Promise<SandboxRecord[]> {
    return (this.db.query(`SELECT * FROM sandboxes WHERE state IN ('pending', 'running') ORDER BY create_time`).all() as Record<string, any>[]).map(decode);
  }

  /** Active sandboxes with the fields the list route filters on (never the rocklet's address or token). */
  async listed(): Promise<{ sandbox_id: string; state: SandboxState; image: string; user_id: string; experiment_id: string; namespace: string; host_ip: string; host_name: string }[]> {
    return (await this.active()).map((r) => ({
      sandbox_id: r.sandbox_id,
      state: r.state,
      image: r.spec.image,
      user_id: String(r.meta.user_id ?? "default"),
      experiment_id: String(r.meta.experiment_id ?? "default"),
      namespace: String(r.meta.namespace ?? "default"),
      host_ip: r.host_ip ?? "",
      host_name: r.host_name ?? "",
    }));
  }

  async placed(
    sandbox_id: string,
    where: { host_ip: string; host_name: string; port_mapping: Record<string, number>; rocklet_url: string; rocklet_token: string; spec?: SandboxSpec; isolation?: string },
  ) {
    this.db.run(`UPDATE sandboxes SET host_ip = ?, host_name = ?, port_mapping = ?, rocklet_url = ?, rocklet_token = ? WHERE sandbox_id = ?`, [
      where.host_ip,
      where.host_name,
      JSON.stringify(where.port_mapping),
      where.rocklet_url,
      where.rocklet_token,
      sandbox_id,
    ]);
    if (where.spec) this.db.run(`UPDATE sandboxes SET spec = ? WHERE sandbox_id = ?`, [JSON.stringify(where.spec), sandbox_id]);
    // In meta, which status responses echo; a restart on another deployment may not say, so it is cleared then.
    this.db.run(`UPDATE sandboxes SET meta = json_set(meta, '$.isolation', ?) WHERE sandbox_id = ?`, [where.isolation ?? null, sandbox_id]);
    // A new instance is not paused, whatever its predecessor was.
    await this.setPaused(sandbox_id, false);
  }

  /** Whether the running sandbox's processes are frozen (E2B's pause), in meta. */
  async setPaused(sandbox_id: string, paused: boolean) {
    this.db.run(`UPDATE sandboxes SET meta = json_set(meta, '$.paused', json(?)) WHERE sandbox_id = ?`, [paused ? "true" : "false", sandbox_id]);
  }

  async isPaused(sandbox_id: string): Promise<boolean> {
    const row = this.db.query(`SELECT json_extract(meta, '$.paused') AS paused FROM sandboxes WHERE sandbox_id = ?`).get(sandbox_id) as { paused: number | null } | null;
    return row?.paused === 1;
  }

  /**
   * Applies `event` when the record's state allows it and returns the updated record; null when it does not (the
   * caller decides whether that is an error or a no-op). The check and the write are one statement. `failureReason`
   * goes with the `fail` event.
   */
  async transition(sandbox_id: string, event: SandboxEvent, failureReason: string | null = null): Promise<SandboxRecord | null> {
    const record = await this.get(sandbox_id);
    if (!record) return null;
    const to = nextState(record.state, event);
    if (!to) return null;
    const now = new Date().toISOString();
    const history = [...record.state_history, { from_state: record.state, to_state: to, event, timestamp: now }].slice(-HISTORY_LIMIT);
    const column = timeColumn[to];
    const reset = event === "restart" ? ", start_time = NULL, stop_time = NULL, failure_reason = NULL" : "";
    const failure = event === "fail" ? ", failure_reason = ?" : "";
    const changed = this.db.run(
      `UPDATE sandboxes SET state = ?, state_history = ?${column ? `, ${column} = ?` : ""}${reset}${failure} WHERE sandbox_id = ? AND state = ?`,
      [to, JSON.stringify(history), ...(column ? [now] : []), ...(failure ? [failureReason] : []), sandbox_id, record.state],
    ).changes;
    return changed ? await this.get(sandbox_id) : null;
  }
}

function decode(row: Record<string, any>): SandboxRecord {
  return {
    ...row,
    spec: JSON.parse(row.spec),
    meta: JSON.parse(row.meta),
    port_mapping: JSON.parse(row.port_mapping),
    state_history: JSON.parse(row.state_history),
  } as SandboxRecord;
}
