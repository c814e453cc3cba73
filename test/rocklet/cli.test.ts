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

  test("--token-stdin takes the first line of stdin; the token is in neither the environment nor the command line", async () => {
    const proc = Bun.spawn([bun, ENTRY, "--host", "127.0.0.1", "--port", "0", "--token-stdin"], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/tmp" },
    });
    try {
      proc.stdin.write("stdin-token-0123\nwhat follows is not read\n");
      await proc.stdin.flush();
      const reader = proc.stderr.getReader();
      let log = "";
      while (!/listening on [^\s]+:(\d+)/.test(log)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`rocklet ended: ${log}`);
        log += new TextDecoder().decode(value);
      }
      expect(log).toContain("token from stdin");
      expect(log).not.toContain("stdin-token-0123");
      const url = `http://127.0.0.1:${/listening on [^\s]+:(\d+)/.exec(log)![1]}/execute`;
      const body = JSON.stringify({ command: "tr '\\0' ' ' </proc/$PPID/cmdline; echo; env" });
      expect((await fetch(url, { method: "POST", body })).status).toBe(401);
      const ok = await (await fetch(url, { method: "POST", body, headers: { authorization: "Bearer stdin-token-0123" } })).json();
      expect(ok.stdout).toContain("--token-stdin");
      expect(ok.stdout).not.toContain("stdin-token-0123");
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  });

  test("--token-stdin with stdin closed before a line: exit 2 naming stdin; with --token-file: a usage error", async () => {
    const closed = Bun.spawn([bun, ENTRY, "--port", "0", "--token-stdin"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    closed.stdin.write("no line break");
    closed.stdin.end();
    const [stderr, code] = await Promise.all([new Response(closed.stderr).text(), closed.exited]);
    expect(code).toBe(2);
    expect(stderr).toContain("stdin ended before a line with the token arrived");
    expect(stderr).not.toContain("no line break");
    const both = await runToExit([bun, ENTRY, "--token-stdin", "--token-file", "/tmp/x"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--token-stdin and --token-file exclude each other");
  });

  test("--token-sha256 accepts only the token with that digest; the token itself is nowhere in the process", async () => {
    const digest = new Bun.CryptoHasher("sha256").update("digest-token-42").digest("hex");
    const rocklet = await spawnRocklet([bun, ENTRY, "--host", "127.0.0.1", "--port", "0", "--token-sha256", digest]);
    try {
      const url = `http://127.0.0.1:${rocklet.port}/execute`;
      const body = JSON.stringify({ command: "tr '\\0' ' ' </proc/$PPID/cmdline; echo; env" });
      expect((await fetch(url, { method: "POST", body })).status).toBe(401);
      // The digest is what the command line holds, and it is not a token.
      expect((await fetch(url, { method: "POST", body, headers: { authorization: `Bearer ${digest}` } })).status).toBe(401);
      const ok = await (await fetch(url, { method: "POST", body, headers: { "x-rocklet-token": "digest-token-42" } })).json();
      expect(ok.stdout).toContain(`--token-sha256 ${digest}`);
      expect(ok.stdout).not.toContain("digest-token-42");
    } finally {
      await rocklet.stop();
    }
    const short = await runToExit([bun, ENTRY, "--port", "0", "--token-sha256", "abc"]);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain("--token-sha256 expects a SHA-256 digest of 64 hex digits");
    const both = await runToExit([bun, ENTRY, "--token-stdin", "--token-sha256", digest]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--token-sha256 excludes --token-stdin and --token-file");
  });

  test("usage errors and --version", async () => {
    expect((await runToExit([bun, ENTRY, "--bogus"])).code).toBe(2);
    expect((await runToExit([bun, ENTRY, "--port", "99999"])).stderr).toContain("--port");
    expect((await runToExit([bun, ENTRY, "--version"])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
