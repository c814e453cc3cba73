/**
 * What the E2B API adds to a sandbox's record: its template, metadata, the env vars of its commands and the envd access
 * token its SDK presents (kept server-side like the rocklet's token; the SDK gets it from create and connect). A
 * sandbox started through ROCK's routes gets a row when an E2B client first connects to it.
 */
import type { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import { sameSecret } from "../../../../core/http/token.ts";

export interface E2bRecord {
  sandbox_id: string;
  /** The `create_time` of the sandbox record the row belongs to: a later sandbox of the same id is another sandbox. */
  record_created: string;
  template_id: string;
  metadata: Record<string, string>;
  env_vars: Record<string, string>;
  access_token: string;
  /** E2B's `lifecycle.onTimeout`: at its timeout the sandbox is killed, or paused (`autoPause`). */
  on_timeout: "kill" | "pause";
  /** E2B's `lifecycle.autoResume`: a data-plane call to the paused sandbox resumes it. */
  auto_resume: boolean;
}

export interface E2bLifecycle {
  on_timeout: "kill" | "pause";
  auto_resume: boolean;
}

/** A row counts only for the sandbox it was written for (ids are reusable once a sandbox stopped). */
const CURRENT = `JOIN sandboxes s ON s.sandbox_id = e.sandbox_id AND s.create_time = e.record_created`;

export class E2bRecords {
  constructor(private readonly db: Database) {
    db.run(`CREATE TABLE IF NOT EXISTS e2b_sandboxes (
      sandbox_id TEXT PRIMARY KEY, record_created TEXT NOT NULL DEFAULT '', template_id TEXT NOT NULL, metadata TEXT NOT NULL,
      env_vars TEXT NOT NULL, access_token TEXT NOT NULL)`);
    // Columns added since the table's first form: a data dir from before gets them with their defaults.
    const columns = new Set((db.query(`PRAGMA table_info(e2b_sandboxes)`).all() as { name: string }[]).map((c) => c.name));
    if (!columns.has("on_timeout")) db.run(`ALTER TABLE e2b_sandboxes ADD COLUMN on_timeout TEXT NOT NULL DEFAULT 'kill'`);
    if (!columns.has("auto_resume")) db.run(`ALTER TABLE e2b_sandboxes ADD COLUMN auto_resume INTEGER NOT NULL DEFAULT 0`);
  }

  /** Writes the row of a sandbox, with a new access token (replacing the row of an earlier sandbox of that id). */
  put(
    record: { sandbox_id: string; create_time: string },
    template_id: string,
    metadata: Record<string, string>,
    env_vars: Record<string, string>,
    lifecycle: E2bLifecycle = { on_timeout: "kill", auto_resume: false },
  ): E2bRecord {
    const row = {
      sandbox_id: record.sandbox_id,
      record_created: record.create_time,
      template_id,
      metadata,
      env_vars,
      access_token: randomBytes(24).toString("base64url"),
      ...lifecycle,
    };
    this.db.run(
      `INSERT INTO e2b_sandboxes (sandbox_id, record_created, template_id, metadata, env_vars, access_token, on_timeout, auto_resume)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (sandbox_id) DO UPDATE SET record_created = excluded.record_created, template_id = excluded.template_id,
         metadata = excluded.metadata, env_vars = excluded.env_vars, access_token = excluded.access_token,
         on_timeout = excluded.on_timeout, auto_resume = excluded.auto_resume`,
      [row.sandbox_id, row.record_created, template_id, JSON.stringify(metadata), JSON.stringify(env_vars), row.access_token, lifecycle.on_timeout, lifecycle.auto_resume ? 1 : 0],
    );
    return row;
  }

  /** The row of the sandbox now holding `sandbox_id`, if an E2B client created or connected to it. */
  get(sandbox_id: string): E2bRecord | null {
    const row = this.db.query(`SELECT e.* FROM e2b_sandboxes e ${CURRENT} WHERE e.sandbox_id = ?`).get(sandbox_id) as Record<string, string> | null;
    return row
      ? ({ ...row, metadata: JSON.parse(row.metadata), env_vars: JSON.parse(row.env_vars), auto_resume: Boolean(row.auto_resume) } as E2bRecord)
      : null;
  }

  /** Whether `token` is the access token of the sandbox now holding `sandbox_id` (constant time). */
  accepts(sandbox_id: string, token: string): boolean {
    const row = this.db.query(`SELECT e.access_token FROM e2b_sandboxes e ${CURRENT} WHERE e.sandbox_id = ?`).get(sandbox_id) as { access_token: string } | null;
    return row !== null && sameSecret(token, row.access_token);
  }
}
