/**
 * The E2B part of a data dir written before it moved into the sandbox record, and before E2B's lifecycle was kept:
 * migrated into the record, read as killed at its timeout and never resumed by a call; a part written now keeps its
 * lifecycle.
 */
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { MemoryStore } from "../../core/store/memory.ts";
import { E2bRecords } from "../../plugins/services/admin/e2b/e2b-records.ts";
import { SandboxRecords } from "../../plugins/services/admin/sandbox-records.ts";

test("an old e2b_sandboxes row without on_timeout and auto_resume reads as kill / no resume; a new part keeps its lifecycle", async () => {
  const db = new Database(":memory:");
  // The tables as the versions before wrote them.
  db.run(`CREATE TABLE sandboxes (
    sandbox_id TEXT PRIMARY KEY, state TEXT NOT NULL, spec TEXT NOT NULL, meta TEXT NOT NULL,
    host_ip TEXT, host_name TEXT, port_mapping TEXT NOT NULL DEFAULT '{}', state_history TEXT NOT NULL DEFAULT '[]',
    create_time TEXT NOT NULL, start_time TEXT, stop_time TEXT, delete_time TEXT, failure_reason TEXT,
    rocklet_url TEXT, rocklet_token TEXT, idempotency_key TEXT, start_request TEXT)`);
  db.run(`CREATE TABLE e2b_sandboxes (sandbox_id TEXT PRIMARY KEY, record_created TEXT NOT NULL DEFAULT '', template_id TEXT NOT NULL,
    metadata TEXT NOT NULL, env_vars TEXT NOT NULL, access_token TEXT NOT NULL)`);
  const spec = (id: string) => JSON.stringify({ sandbox_id: id, image: "python:3.11", cpus: 1, memoryBytes: 1 << 30, pidsLimit: 64, env: {}, rockletToken: "t", labels: {} });
  db.run(`INSERT INTO sandboxes (sandbox_id, state, spec, meta, create_time) VALUES ('old', 'running', ?, '{}', '2026-01-01T00:00:00.000Z'), ('new', 'running', ?, '{}', '2026-01-02T00:00:00.000Z')`, [spec("old"), spec("new")]);
  db.run(`INSERT INTO e2b_sandboxes VALUES ('old', '2026-01-01T00:00:00.000Z', 'base', '{}', '{}', 'token-old')`);
  const records = new SandboxRecords(db, new MemoryStore(), { adminId: "test", retentionMs: 60_000 });
  await records.seedIfLost();
  const e2b = new E2bRecords(records);
  expect(await e2b.get("old")).toMatchObject({ access_token: "token-old", on_timeout: "kill", auto_resume: false });
  expect((await e2b.accepted("old", "token-old"))?.sandbox_id).toBe("old");
  await e2b.put({ sandbox_id: "new", create_time: "2026-01-02T00:00:00.000Z" }, "base", {}, {}, { on_timeout: "pause", auto_resume: true });
  expect(await e2b.get("new")).toMatchObject({ on_timeout: "pause", auto_resume: true });
  // The lifecycle is in the record itself, so another admin reading the store sees it.
  expect((await records.get("new"))?.e2b).toMatchObject({ on_timeout: "pause", auto_resume: true });
});
