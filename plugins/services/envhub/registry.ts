import type { Database } from "bun:sqlite";
import type { EnvInfo } from "../../protocol/envhub/schemas.ts";

interface Row {
  env_name: string;
  image: string;
  owner: string;
  description: string;
  tags: string;
  extra_spec: string | null;
  create_at: string;
  update_at: string;
}

const fromRow = (r: Row): EnvInfo => ({ ...r, tags: JSON.parse(r.tags), extra_spec: r.extra_spec === null ? null : JSON.parse(r.extra_spec) });

/** The envs table in SQLite: upsert, get, list by owner and any-of tags, delete. */
export class EnvRegistry {
  constructor(private readonly db: Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS envs (
      env_name TEXT PRIMARY KEY,
      image TEXT NOT NULL,
      owner TEXT NOT NULL DEFAULT '',
      description TEXT NOT NULL DEFAULT '',
      tags TEXT NOT NULL DEFAULT '[]',
      extra_spec TEXT,
      create_at TEXT NOT NULL,
      update_at TEXT NOT NULL)`);
  }

  register(env: Omit<EnvInfo, "create_at" | "update_at">): EnvInfo {
    const now = new Date().toISOString();
    this.db
      .query(
        `INSERT INTO envs (env_name, image, owner, description, tags, extra_spec, create_at, update_at)
         VALUES ($env_name, $image, $owner, $description, $tags, $extra_spec, $now, $now)
         ON CONFLICT(env_name) DO UPDATE SET image = excluded.image, owner = excluded.owner,
           description = excluded.description, tags = excluded.tags, extra_spec = excluded.extra_spec, update_at = excluded.update_at`,
      )
      .run({ ...env, tags: JSON.stringify(env.tags), extra_spec: env.extra_spec === null ? null : JSON.stringify(env.extra_spec), now });
    return this.get(env.env_name)!;
  }

  get(name: string): EnvInfo | null {
    const row = this.db.query("SELECT * FROM envs WHERE env_name = ?").get(name) as Row | null;
    return row ? fromRow(row) : null;
  }

  list(filter: { owner?: string; tags?: string[] }): EnvInfo[] {
    const rows = this.db.query("SELECT * FROM envs ORDER BY env_name").all() as Row[];
    return rows
      .map(fromRow)
      .filter((e) => filter.owner === undefined || filter.owner === "" || e.owner === filter.owner)
      .filter((e) => !filter.tags?.length || e.tags.some((t) => filter.tags!.includes(t)));
  }

  delete(name: string): boolean {
    return this.db.query("DELETE FROM envs WHERE env_name = ?").run(name).changes > 0;
  }
}
