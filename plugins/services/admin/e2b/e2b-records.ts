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
}

/** A row counts only for the sandbox it was written for (ids are reusable once a sandbox stopped). */
const CURRENT = `JOIN sandboxes s ON s.sandbox_id = e.sandbox_id AND s.create_time = e.record_created`;

export class E2bRecords {
  constructor(private readonly db: Database) {
    db.run(`CREATE TABLE IF NOT EXISTS e2b_sandboxes (
      sandbox_id TEXT PRIMARY KEY, record_created TEXT NOT NULL DEFAULT '', template_id TEXT NOT NULL, metadata TEXT NOT NULL,
      env_vars TEXT NOT NULL, access_token TEXT NOT NULL)`);
  }

  /** Writes the row of a sandbox, with a new access token (replacing the row of an earlier sandbox of that id). */
  async put(record: { sandbox_id: string; create_time: string }, template_id: string, metadata: Record<string, string>, env_vars: Record<string, string>): Promise<E2bRecord> {
    const row = {
      sandbox_id: record.sandbox_id,
      record_created: record.create_time,
      template_id,
      metadata,
      env_vars,
      access_token: randomBytes(24).toString("base64url"),
    };
    this.db.run(
      `INSERT INTO e2b_sandboxes (sandbox_id, record_created, template_id, metadata, env_vars, access_token) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (sandbox_id) DO UPDATE SET record_created = excluded.record_created, template_id = excluded.template_id,
         metadata = excluded.metadata, env_vars = excluded.env_vars, access_token = excluded.access_token`,
      [row.sandbox_id, row.record_created, template_id, JSON.stringify(metadata), JSON.stringify(env_vars), row.access_token],
    );
    return row;
  }

  /** The row of the sandbox now holding `sandbox_id`, if an E2B client created or connected to it. */
  async get(sandbox_id: string): Promise<E2bRecord | null> {
    const row = this.db.query(`SELECT e.* FROM e2b_sandboxes e ${CURRENT} WHERE e.sandbox_id = ?`).get(sandbox_id) as Record<string, string> | null;
    return row ? ({ ...row, metadata: JSON.parse(row.metadata), env_vars: JSON.parse(row.env_vars) } as E2bRecord) : null;
  }

  /** Whether `token` is the access token of the sandbox now holding `sandbox_id` (constant time). */
  async accepts(sandbox_id: string, token: string): Promise<boolean> {
    const row = this.db.query(`SELECT e.access_token FROM e2b_sandboxes e ${CURRENT} WHERE e.sandbox_id = ?`).get(sandbox_id) as { access_token: string } | null;
    return row !== null && sameSecret(token, row.access_token);
  }
}
