import { afterAll, beforeAll, expect, test } from "bun:test";
import { bootAdmin, type AdminHarness } from "./support.ts";

let admin: AdminHarness;

beforeAll(async () => {
  // No rocklet answers within a millisecond: every start fails after the instance was created.
  admin = await bootAdmin("    start_timeout_seconds: 0.001\n");
});
afterAll(async () => {
  await admin?.close();
});

test("a failed start leaves no process and no live record, and says why", async () => {
  const res = await admin.post("/start", { image: "x", memory: "1g", sandbox_id: "doomed" });
  expect(res).toMatchObject({ status: "Failed", message: "start sandbox failed", result: { code: 5000 } });
  expect(res.error).toContain("did not become alive");
  expect((await admin.deployment.list()).filter((s) => s.state === "running")).toEqual([]);
  expect((await admin.get("/sandboxes")).result.total).toBe(0);
  expect((await admin.get("/get_status?sandbox_id=doomed&include_all_states=true")).result.state).toBe("stopped");
  // The id is free again.
  expect((await admin.post("/start", { image: "x", memory: "1g", sandbox_id: "doomed" })).error).toContain("did not become alive");
}, 30_000);

test("a start retried with its Idempotency-Key after it failed answers the failure again, and starts nothing", async () => {
  const headers = { "idempotency-key": `failing-${process.pid}` };
  const body = { image: "x", memory: "1g", sandbox_id: "doomed-once" };
  const first = await admin.post("/start", body, headers);
  expect(first).toMatchObject({ status: "Failed", result: { code: 5000 } });
  const record = (await admin.get("/get_status?sandbox_id=doomed-once&include_all_states=true")).result;
  const retried = await admin.post("/start", body, headers);
  expect(retried).toMatchObject({ status: "Failed", result: { code: 5000 } });
  expect(retried.error).toBe("failed to start sandbox doomed-once: it did not become alive within 0.001 s");
  // The same record: the start did not run again.
  expect((await admin.get("/get_status?sandbox_id=doomed-once&include_all_states=true")).result).toEqual(record);
  expect(await admin.deployment.list()).toEqual([]);
  expect((await admin.get("/sandboxes")).result.total).toBe(0);
}, 30_000);
