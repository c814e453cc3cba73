import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../core/db.ts";

const dir = mkdtempSync(join(tmpdir(), "rock-db-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a plugin's database and its WAL files are readable by the server's user only (records hold rocklet tokens)", () => {
  const file = join(dir, "admin.sqlite");
  const db = openDatabase(file);
  db.exec("CREATE TABLE t (secret TEXT); INSERT INTO t VALUES ('token')");
  for (const path of [file, `${file}-wal`, `${file}-shm`]) expect([path, statSync(path).mode & 0o777]).toEqual([path, 0o600]);
  db.close();
  // An existing file left readable by others (an older version made it 0644) is narrowed again when opened.
  chmodSync(file, 0o644);
  const reopened = openDatabase(file);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  reopened.close();
});
