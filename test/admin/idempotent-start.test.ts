/**
 * Idempotent starts (local deployment): a start retried with the same `Idempotency-Key` (as E2B and Stripe take it)
 * or the same sandbox id gets the same sandbox; the key with a different request is HTTP 422 in ROCK's Failed envelope
 * naming the key and the field; a retry after the sandbox stopped answers as the first time did, without a new one.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bootAdmin, type AdminHarness } from "./support.ts";

let admin: AdminHarness;

beforeAll(async () => {
  admin = await bootAdmin();
});
afterAll(async () => {
  await admin?.close();
});

const keyed = (path: string, body: unknown, key: string) =>
  fetch(admin.base + path, { method: "POST", headers: { "content-type": "application/json", "idempotency-key": key }, body: JSON.stringify(body) });
const running = async () => (await admin.deployment.list()).filter((i) => i.state === "running").map((i) => i.sandbox_id);

describe("admin: idempotent start", () => {
  test("the same key gets the same sandbox, from start_async and start alike; a new key a new one", async () => {
    const key = `k-${crypto.randomUUID()}`;
    const body = { image: "x", memory: "1g" };
    const first = await (await keyed("/start_async", body, key)).json();
    expect(first.status).toBe("Success");
    const id = first.result.sandbox_id;
    expect((await (await keyed("/start_async", body, key)).json()).result.sandbox_id).toBe(id);
    const waited = await (await keyed("/start", body, key)).json();
    expect(waited).toMatchObject({ status: "Success", result: { sandbox_id: id } });
    expect((await admin.get(`/get_status?sandbox_id=${id}`)).result.state).toBe("running");
    const other = await (await keyed("/start_async", body, `${key}-2`)).json();
    expect(other.result.sandbox_id).not.toBe(id);
    expect((await running()).filter((s) => [id, other.result.sandbox_id].includes(s)).length).toBe(2);
    for (const s of [id, other.result.sandbox_id]) await admin.post("/stop", { sandbox_id: s });
  }, 30_000);

  test("the key with another request: HTTP 422, Failed, naming the key and the field that differs; nothing is started", async () => {
    const key = `k-${crypto.randomUUID()}`;
    const id = (await (await keyed("/start", { image: "x", memory: "1g" }, key)).json()).result.sandbox_id;
    const before = await running();
    const changes: [Record<string, string>, string][] = [
      [{ memory: "2g" }, "memory 1073741824, this request has 2147483648"],
      [{ image: "y" }, 'image "x", this request has "y"'],
      [{ sandbox_id: "named" }, 'sandbox_id null, this request has "named"'],
    ];
    for (const [change, field] of changes) {
      const response = await keyed("/start_async", { image: "x", memory: "1g", ...change }, key);
      expect(response.status).toBe(422);
      const envelope = await response.json();
      expect(envelope).toMatchObject({ status: "Failed", result: { code: 4000 } });
      expect(envelope.error).toBe(`Idempotency-Key '${key}' was used for a different request (${field}); use a new key for a new sandbox`);
    }
    expect(await running()).toEqual(before);
    await admin.post("/stop", { sandbox_id: id });
  }, 30_000);

  test("a retry after the sandbox was stopped answers as the first time, and starts nothing", async () => {
    const key = `k-${crypto.randomUUID()}`;
    const body = { image: "x", memory: "1g" };
    const first = await (await keyed("/start", body, key)).json();
    const id = first.result.sandbox_id;
    await admin.post("/stop", { sandbox_id: id });
    expect(await (await keyed("/start", body, key)).json()).toEqual(first);
    expect((await (await keyed("/start_async", body, key)).json()).result.sandbox_id).toBe(id);
    expect((await admin.get(`/get_status?sandbox_id=${id}&include_all_states=true`)).result.state).toBe("stopped");
    expect(await running()).not.toContain(id);
  }, 30_000);

  test("a malformed key is Failed 4000 naming the header", async () => {
    for (const key of ["x".repeat(256), "tab\there"]) {
      const envelope = await (await keyed("/start_async", { image: "x", memory: "1g" }, key)).json();
      expect(envelope).toMatchObject({ status: "Failed", result: { code: 4000 } });
      expect(envelope.error).toBe("Idempotency-Key must be 1 to 255 printable ASCII characters, without spaces at either end");
    }
  });
});
