import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestRocklet, type TestRocklet, scratchDir } from "./harness.ts";

let rocklet: TestRocklet;

beforeAll(() => {
  rocklet = startTestRocklet({ requestTimeoutSeconds: 1, commandMarginSeconds: 1 });
});
afterAll(async () => {
  await rocklet.stop();
});

describe("request deadlines", () => {
  test("a route without its own timeout answers 504 after the request timeout", async () => {
    const dir = scratchDir("rocklet-fifo-");
    const fifo = join(dir, "pipe");
    Bun.spawnSync(["mkfifo", fifo]);
    const { status, body } = await rocklet.post("/read_file", { path: fifo });
    expect(status).toBe(504);
    expect(body).toEqual({ detail: "Request processing timed out after 1 seconds." });
    writeFileSync(fifo, "release the blocked reader");
  });

  test("commands get their own timeout plus a margin, never less", async () => {
    const executed = await rocklet.post("/execute", { command: "sleep 1.2; echo finished", timeout: 3 });
    expect(executed.body).toMatchObject({ stdout: "finished\n", exit_code: 0 });
    await rocklet.post("/create_session", { session: "long" });
    const ran = await rocklet.post("/run_in_session", { session: "long", command: "sleep 1.2; echo finished", timeout: 3 });
    expect(ran.body).toMatchObject({ output: "finished", exit_code: 0 });
    const unbounded = await rocklet.post("/run_in_session", { session: "long", command: "sleep 1.2; echo no limit" });
    expect(unbounded.body.output).toBe("no limit");
  });
});
