import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bootAdmin, type AdminHarness } from "./support.ts";

describe("admin: warmup/tasks on an operator with one host", () => {
  let admin: AdminHarness;
  beforeAll(async () => {
    admin = await bootAdmin();
  });
  afterAll(() => admin?.close());

  test("refused in the Failed envelope, naming the operator; a blank image is an invalid parameter", async () => {
    expect(await admin.post("/warmup/tasks", { image: "python:3.11" })).toEqual({
      status: "Failed",
      message: "warmup failed",
      error: "operator 'local-operator' cannot warm up images: it pulls them when a sandbox starts",
      result: { code: 4000, exit_code: null, failure_reason: "operator 'local-operator' cannot warm up images: it pulls them when a sandbox starts" },
    });
    expect(await admin.post("/warmup/tasks", {})).toMatchObject({ status: "Failed", message: "invalid parameter", error: expect.stringContaining("image") });
  });
});
