/**
 * OpenAPI specs registered by tenants, in SQLite: one row per (tenant, name) with the document as sent and the
 * credentials used for the operations' security schemes. Read operations are kept in memory.
 */
import type { Database } from "bun:sqlite";
import { registerSecret } from "../../../core/log.ts";
import { readSpec, type Operation } from "./openapi-spec.ts";

export interface OpenAPIAuth {
  /** The key sent for the spec's security schemes. */
  apikey: string;
  /** The scheme word before a bearer key (the original's `apikey_type`, default "Bearer"). */
  apikey_type?: string;
}

export interface OpenAPIRecord {
  tenant_id: string;
  name: string;
  schema: Record<string, unknown>;
  auth?: OpenAPIAuth;
  server: URL;
  operations: Map<string, Operation>;
}

export class OpenAPIRecords {
  private readonly cache = new Map<string, OpenAPIRecord>();

  /** `unreadable` hears of a stored spec this version cannot read (it stays stored, and is not served). */
  constructor(
    private readonly db: Database,
    unreadable: (tenant: string, name: string, reason: string) => void = () => {},
  ) {
    db.run(`CREATE TABLE IF NOT EXISTS openapi_specs (
      tenant_id TEXT NOT NULL, name TEXT NOT NULL, schema TEXT NOT NULL, auth TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (tenant_id, name))`);
    for (const row of db.query(`SELECT tenant_id, name, schema, auth FROM openapi_specs`).all() as { tenant_id: string; name: string; schema: string; auth: string | null }[]) {
      const auth = row.auth ? (JSON.parse(row.auth) as OpenAPIAuth) : undefined;
      if (auth) registerSecret(auth.apikey);
      try {
        const schema = JSON.parse(row.schema);
        this.cache.set(key(row.tenant_id, row.name), { tenant_id: row.tenant_id, name: row.name, schema, ...(auth ? { auth } : {}), ...readSpec(schema) });
      } catch (error) {
        unreadable(row.tenant_id, row.name, error instanceof Error ? error.message : String(error));
      }
    }
  }

  get(tenant_id: string, name: string): OpenAPIRecord | undefined {
    return this.cache.get(key(tenant_id, name));
  }

  ofTenant(tenant_id: string): OpenAPIRecord[] {
    return [...this.cache.values()].filter((r) => r.tenant_id === tenant_id);
  }

  /** Stores a document already read by `readSpec` (replacing one of the same name). */
  put(record: OpenAPIRecord): OpenAPIRecord {
    this.db.run(`INSERT OR REPLACE INTO openapi_specs (tenant_id, name, schema, auth, updated_at) VALUES (?, ?, ?, ?, ?)`, [
      record.tenant_id,
      record.name,
      JSON.stringify(record.schema),
      record.auth ? JSON.stringify(record.auth) : null,
      new Date().toISOString(),
    ]);
    this.cache.set(key(record.tenant_id, record.name), record);
    return record;
  }
}

const key = (tenant: string, name: string) => `${tenant}\u0000${name}`;
