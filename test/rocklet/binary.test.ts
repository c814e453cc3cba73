import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildRocklet } from "../../plugins/programs/rocklet/build.ts";
import { type RockletProcess, spawnRocklet } from "./process-harness.ts";

let dir: string;
let binary: string;
let rocklet: RockletProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "rocklet-binary-"));
  binary = await buildRocklet({ outfile: join(dir, "rocklet") });
  rocklet = await spawnRocklet([binary, "--host", "127.0.0.1", "--port", "0"], { ROCKLET_TOKEN: "binary-token" });
}, 120_000);

afterAll(async () => {
  await rocklet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("compiled binary", () => {
  test("starts and answers /is_alive and a session command", async () => {
    console.log(`compiled rocklet: ${(statSync(binary).size / 1024 ** 2).toFixed(1)} MiB`);
    const base = `http://127.0.0.1:${rocklet.port}`;
    expect(await (await fetch(`${base}/is_alive`)).json()).toEqual({ is_alive: true, message: "" });
    const headers = { authorization: "Bearer binary-token", "content-type": "application/json" };
    await fetch(`${base}/create_session`, { method: "POST", headers, body: JSON.stringify({ session: "b" }) });
    const run = await fetch(`${base}/run_in_session`, {
      method: "POST",
      headers,
      body: JSON.stringify({ session: "b", command: "echo from-binary" }),
    });
    expect(await run.json()).toMatchObject({ output: "from-binary", exit_code: 0 });
  });
});
