import { describe, expect, test } from "bun:test";
import { scratchDir } from "./harness.ts";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ENTRY, runToExit, spawnRocklet } from "./process-harness.ts";

const bun = process.execPath;

describe("rocklet command line", () => {
  test("refuses to start without a token unless --insecure", async () => {
    const { code, stderr } = await runToExit([bun, ENTRY, "--port", "0"]);
    expect(code).toBe(2);
    expect(stderr).toContain("ROCKLET_TOKEN");
    expect(stderr).toContain("--insecure");
  });

  test("--insecure serves without authentication", async () => {
    const rocklet = await spawnRocklet([bun, ENTRY, "--host", "127.0.0.1", "--port", "0", "--insecure"]);
    try {
      const response = await fetch(`http://127.0.0.1:${rocklet.port}/execute`, {
        method: "POST",
        body: JSON.stringify({ command: "echo open" }),
      });
      expect(await response.json()).toMatchObject({ stdout: "open\n", exit_code: 0 });
    } finally {
      await rocklet.stop();
    }
  });

  test("--token-file is read, then deleted", async () => {
    const dir = scratchDir("rocklet-token-");
    const file = join(dir, "token");
    writeFileSync(file, "file-token\n");
    const rocklet = await spawnRocklet([bun, ENTRY, "--host", "127.0.0.1", "--port", "0", "--token-file", file]);
    try {
      expect(existsSync(file)).toBe(false);
      const url = `http://127.0.0.1:${rocklet.port}/execute`;
      const body = JSON.stringify({ command: "echo ${ROCKLET_TOKEN:-absent}" });
      expect((await fetch(url, { method: "POST", body })).status).toBe(401);
      const ok = await fetch(url, { method: "POST", body, headers: { authorization: "Bearer file-token" } });
      expect((await ok.json()).stdout).toBe("absent\n");
    } finally {
      await rocklet.stop();
    }
  });

  test("ROCKLET_TOKEN does not reach commands", async () => {
    const rocklet = await spawnRocklet([bun, ENTRY, "--host", "127.0.0.1", "--port", "0"], { ROCKLET_TOKEN: "env-token" });
    try {
      const response = await fetch(`http://127.0.0.1:${rocklet.port}/execute`, {
        method: "POST",
        body: JSON.stringify({ command: "echo ${ROCKLET_TOKEN:-absent}" }),
        headers: { "x-rocklet-token": "env-token" },
      });
      expect((await response.json()).stdout).toBe("absent\n");
    } finally {
      await rocklet.stop();
    }
  });

  test("usage errors and --version", async () => {
    expect((await runToExit([bun, ENTRY, "--bogus"])).code).toBe(2);
    expect((await runToExit([bun, ENTRY, "--port", "99999"])).stderr).toContain("--port");
    expect((await runToExit([bun, ENTRY, "--version"])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
