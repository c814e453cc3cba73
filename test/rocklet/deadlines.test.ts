import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
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
    // read_file refuses a FIFO at once; write_file waits for a reader that never comes.
    const { status, body } = await rocklet.post("/write_file", { path: fifo, content: "waiting" });
    expect(status).toBe(504);
    expect(body).toEqual({ detail: "Request processing timed out after 1 seconds." });
    expect(readFileSync(fifo, "utf8")).toBe("waiting"); // releases the blocked writer
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
