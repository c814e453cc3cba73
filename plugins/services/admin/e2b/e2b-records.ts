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
  template_id: string;
  metadata: Record<string, string>;
  env_vars: Record<string, string>;
  access_token: string;
}

export class E2bRecords {
  constructor(private readonly db: Database) {
    db.run(`CREATE TABLE IF NOT EXISTS e2b_sandboxes (
      sandbox_id TEXT PRIMARY KEY, template_id TEXT NOT NULL, metadata TEXT NOT NULL, env_vars TEXT NOT NULL, access_token TEXT NOT NULL)`);
  }

  /** Writes the row of a sandbox (a reused id replaces the row of the sandbox that had it before). */
  put(sandbox_id: string, template_id: string, metadata: Record<string, string>, env_vars: Record<string, string>): E2bRecord {
    const record = { sandbox_id, template_id, metadata, env_vars, access_token: randomBytes(24).toString("base64url") };
    this.db.run(
      `INSERT INTO e2b_sandboxes (sandbox_id, template_id, metadata, env_vars, access_token) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (sandbox_id) DO UPDATE SET template_id = excluded.template_id, metadata = excluded.metadata,
         env_vars = excluded.env_vars, access_token = excluded.access_token`,
      [sandbox_id, template_id, JSON.stringify(metadata), JSON.stringify(env_vars), record.access_token],
    );
    return record;
  }

  get(sandbox_id: string): E2bRecord | null {
    const row = this.db.query(`SELECT * FROM e2b_sandboxes WHERE sandbox_id = ?`).get(sandbox_id) as Record<string, string> | null;
    return row ? { ...row, metadata: JSON.parse(row.metadata), env_vars: JSON.parse(row.env_vars) } as E2bRecord : null;
  }

  /** Whether `token` is the access token of `sandbox_id` (constant time). */
  accepts(sandbox_id: string, token: string): boolean {
    const row = this.db.query(`SELECT access_token FROM e2b_sandboxes WHERE sandbox_id = ?`).get(sandbox_id) as { access_token: string } | null;
    return row !== null && sameSecret(token, row.access_token);
  }

  delete(sandbox_id: string): void {
    this.db.run(`DELETE FROM e2b_sandboxes WHERE sandbox_id = ?`, [sandbox_id]);
  }
}
