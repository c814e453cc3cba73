/**
 * Tool instances in SQLite (`ToolInstance` of the original, plus the node's token and the reason of a failure),
 * mirrored in memory so that the execute path reads no disk. One row per node `<tool>_<tenant>`; rows are kept
 * after removal (status `exited`) so that a later create can reuse the port.
 */
import type { Database } from "bun:sqlite";
import type { InstanceStatus } from "../../protocol/tool-manager/schemas.ts";

export interface ToolInstance {
  name: string;
  tool_name: string;
  tenant_id: string;
  status: InstanceStatus;
  image: string;
  container_id: string | null;
  /** Host port on 127.0.0.1 (and the node's port inside its container). */
  port: number;
  /** Bearer token the node requires; only the manager holds it. */
  node_token: string;
  error: string | null;
  created_at: string;
  updated_at: string;
}

/** Statuses whose instance holds its port and container. */
export const isActive = (status: InstanceStatus) => status === "pending" || status === "running";

export class InstanceRecords {
  private readonly cache = new Map<string, ToolInstance>();

  constructor(private readonly db: Database) {
    db.run(`CREATE TABLE IF NOT EXISTS tool_instances (
      name TEXT PRIMARY KEY, tool_name TEXT NOT NULL, tenant_id TEXT NOT NULL, status TEXT NOT NULL, image TEXT NOT NULL,
      container_id TEXT, port INTEGER NOT NULL, node_token TEXT NOT NULL, error TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)`);
    for (const row of db.query(`SELECT * FROM tool_instances`).all() as ToolInstance[]) this.cache.set(row.name, row);
  }

  get(name: string): ToolInstance | undefined {
    return this.cache.get(name);
  }

  all(): ToolInstance[] {
    return [...this.cache.values()];
  }

  ofTenant(tenant_id: string): ToolInstance[] {
    return this.all().filter((r) => r.tenant_id === tenant_id);
  }

  /** Inserts or replaces the whole record. */
  put(record: Omit<ToolInstance, "created_at" | "updated_at"> & { created_at?: string }): ToolInstance {
    const now = new Date().toISOString();
    const full: ToolInstance = { ...record, created_at: record.created_at ?? this.cache.get(record.name)?.created_at ?? now, updated_at: now };
    this.db.run(
      `INSERT OR REPLACE INTO tool_instances (name, tool_name, tenant_id, status, image, container_id, port, node_token, error, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [full.name, full.tool_name, full.tenant_id, full.status, full.image, full.container_id, full.port, full.node_token, full.error, full.created_at, full.updated_at],
    );
    this.cache.set(full.name, full);
    return full;
  }

  update(name: string, changes: Partial<Pick<ToolInstance, "status" | "container_id" | "error" | "port" | "image">>): ToolInstance {
    const current = this.cache.get(name);
    if (!current) throw new Error(`no tool instance '${name}'`);
    return this.put({ ...current, ...changes });
  }
}
