import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bootAdmin, type AdminHarness } from "./support.ts";

let admin: AdminHarness;

beforeAll(async () => {
  admin = await bootAdmin("    max_cpus: 4\n    max_memory: 2g\n");
});
afterAll(async () => {
  await admin?.close();
});

describe("admin: bad input is Failed with code 4000 and names the problem (HTTP 200, as ROCK)", () => {
  test("validation errors: blank or missing image / sandbox_id", async () => {
    for (const body of [{}, { image: "" }, { image: "   " }]) {
      const res = await admin.post("/start", body);
      expect(res).toMatchObject({ status: "Failed", message: "invalid parameter", result: { code: 4000 } });
      expect(res.error).toStartWith("image");
    }
    for (const body of [{ command: "ls" }, { sandbox_id: " ", command: "ls" }]) {
      const res = await admin.post("/execute", body);
      expect(res).toMatchObject({ status: "Failed", message: "invalid parameter", result: { code: 4000 } });
      expect(res.error).toStartWith("sandbox_id");
    }
    const query = await admin.get("/get_status");
    expect(query).toMatchObject({ status: "Failed", message: "invalid parameter" });
    expect(query.error).toContain("sandbox_id");
  });

  test("unknown sandbox, resources above the maximum, a bad memory size, an invalid id", async () => {
    expect(await admin.post("/execute", { sandbox_id: "ghost", command: "ls" })).toMatchObject({ status: "Failed", error: "Sandbox ghost not found", result: { code: 4000 } });
    expect(await admin.get("/get_status?sandbox_id=ghost")).toMatchObject({ status: "Failed", error: "Sandbox ghost not found", result: { code: 4000 } });
    expect(await admin.post("/stop", { sandbox_id: "ghost" })).toMatchObject({ status: "Failed", result: { code: 4000 } });
    expect(await admin.post("/restart", { sandbox_id: "ghost" })).toMatchObject({ status: "Failed", result: { code: 4000 } });
    expect((await admin.post("/delete", { sandbox_id: "ghost" })).status).toBe("Success");
    expect((await admin.get("/is_alive?sandbox_id=ghost")).result).toEqual({ is_alive: false, message: "sandbox ghost is alive failed" });

    const cpus = await admin.post("/start", { image: "x", cpus: 8, memory: "1g" });
    expect(cpus).toMatchObject({ status: "Failed", error: "cpus 8 exceeds the maximum of 4", result: { code: 4000 } });
    const memory = await admin.post("/start", { image: "x", memory: "3g" });
    expect(memory).toMatchObject({ status: "Failed", error: "memory 3g exceeds the maximum of 2.00g", result: { code: 4000 } });
    expect((await admin.post("/start", { image: "x", memory: "lots" })).error).toContain("memory 'lots'");
    expect((await admin.post("/start", { image: "x", memory: "1g", sandbox_id: "../etc" })).error).toContain("sandbox_id '../etc' is invalid");
    expect(await admin.deployment.list()).toEqual([]);
    expect((await admin.get("/sandboxes")).result.total).toBe(0);
  });

  test("a bad placement is Failed 4000 naming the field; a placement on an operator that runs on one host is refused; nothing is started", async () => {
    const nine = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, "v"]));
    for (const placement of [{ zone: 3 }, nine, ["zone"], "zone=b"]) {
      const res = await admin.post("/start", { image: "x", memory: "1g", placement });
      expect(res).toMatchObject({ status: "Failed", message: "invalid parameter", result: { code: 4000 } });
      expect(res.error).toStartWith("placement");
    }
    const invalid = "is invalid: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit";
    for (const [placement, error] of [
      [{ "zone b": "x" }, `placement: label name "zone b" ${invalid}`],
      [{ "": "x" }, `placement: label name "" ${invalid}`],
      [{ zone: "a b" }, `placement.zone: "a b" ${invalid}`],
      [{ zone: "" }, `placement.zone: "" ${invalid}`],
      [{ zone: "-a" }, `placement.zone: "-a" ${invalid}`],
      [{ zone: "x".repeat(64) }, `placement.zone: "${"x".repeat(64)}" ${invalid}`],
      [{ zone: "a==b" }, `placement.zone: "a==b" ${invalid}`],
    ] as const) {
      expect(await admin.post("/start", { image: "x", memory: "1g", placement })).toMatchObject({ status: "Failed", error, result: { code: 4000 } });
    }
    const oneHost = await admin.post("/start", { image: "x", memory: "1g", placement: { zone: "b" } });
    expect(oneHost).toMatchObject({ status: "Failed", result: { code: 4000 } });
    expect(oneHost.error).toMatch(/^placement: operator '.+' runs every sandbox on one host and takes no placement$/);
    // null is absent, as pydantic's Optional, and so is a placement that names no label.
    for (const [i, placement] of [null, {}].entries()) {
      const id = `noplace-${process.pid}-${i}`;
      expect((await admin.post("/start", { image: "x", memory: "1g", sandbox_id: id, placement })).status).toBe("Success");
      expect((await admin.get(`/get_status?sandbox_id=${id}`)).result).not.toHaveProperty("placement");
      expect((await admin.post("/start", { image: "x", memory: "1g", sandbox_id: id })).status).toBe("Success");
      await admin.post("/stop", { sandbox_id: id });
    }
    expect((await admin.deployment.list()).filter((s) => s.state === "running")).toEqual([]);
  }, 30_000);

  test("mutated bodies the fuzzer sent (an object with its own toString, nesting 5,000 deep) are Failed 4000, not HTTP 500", async () => {
    const deep = "[".repeat(5000) + "]".repeat(5000);
    for (const [path, body] of [
      ["/write_file", `{"sandbox_id":"x","path":{"toString":1},"content":"c"}`],
      ["/upload", `{"sandbox_id":{"toString":1},"target_path":"t"}`],
      ["/stop", `{"sandbox_id":{"valueOf":1,"toString":1}}`],
      ["/restart", `{"sandbox_id":{"toString":"x"}}`],
      ["/sandboxes/batch", `{"sandbox_ids":[{"toString":1}]}`],
      ["/execute", `{"sandbox_id":"x","command":${deep}}`],
      ["/start", deep],
    ]) {
      const res = await fetch(admin.base + path, { method: "POST", headers: { "content-type": "application/json" }, body });
      expect(res.status).toBe(200);
      const envelope = await res.json();
      expect(envelope).toMatchObject({ status: "Failed", result: { code: 4000 } });
      expect(envelope.error).toBeString();
    }
  });

  test("a start repeated with the same id gets the same sandbox, one with another request is refused naming the difference; a running sandbox cannot be deleted", async () => {
    const id = `dup-${process.pid}`;
    const first = await admin.post("/start", { image: "x", memory: "1g", sandbox_id: id });
    expect(first.status).toBe("Success");
    expect(await admin.post("/start", { image: "x", memory: "1g", sandbox_id: id })).toEqual(first);
    expect(await admin.post("/start", { image: "x", memory: "2g", sandbox_id: id })).toMatchObject({
      status: "Failed",
      error: `Sandbox ${id} already exists (started with memory 1073741824, this request has 2147483648)`,
      result: { code: 4000 },
    });
    expect(await admin.post("/delete", { sandbox_id: id })).toMatchObject({ status: "Failed", result: { code: 4000 } });
    await admin.post("/stop", { sandbox_id: id });
  }, 30_000);
});
