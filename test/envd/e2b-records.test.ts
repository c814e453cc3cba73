/** The E2B rows of a data dir written before the lifecycle columns existed: read with their defaults, written anew. */
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { E2bRecords } from "../../plugins/services/admin/e2b/e2b-records.ts";

test("a table without on_timeout and auto_resume gets them: old rows read as kill / no resume, new rows keep theirs", () => {
  const db = new Database(":memory:");
  db.run(`CREATE TABLE sandboxes (sandbox_id TEXT PRIMARY KEY, create_time TEXT NOT NULL)`);
  db.run(`CREATE TABLE e2b_sandboxes (sandbox_id TEXT PRIMARY KEY, record_created TEXT NOT NULL DEFAULT '', template_id TEXT NOT NULL,
    metadata TEXT NOT NULL, env_vars TEXT NOT NULL, access_token TEXT NOT NULL)`);
  db.run(`INSERT INTO sandboxes VALUES ('old', 't1'), ('new', 't2')`);
  db.run(`INSERT INTO e2b_sandboxes VALUES ('old', 't1', 'base', '{}', '{}', 'token-old')`);
  const e2b = new E2bRecords(db);
  expect(e2b.get("old")).toMatchObject({ access_token: "token-old", on_timeout: "kill", auto_resume: false });
  e2b.put({ sandbox_id: "new", create_time: "t2" }, "base", {}, {}, { on_timeout: "pause", auto_resume: true });
  expect(e2b.get("new")).toMatchObject({ on_timeout: "pause", auto_resume: true });
  new E2bRecords(db); // a second start finds the columns there
  expect(e2b.get("new")).toMatchObject({ on_timeout: "pause", auto_resume: true });
});
