/**
 * read_file never lies: a file above the limit, a device that never ends, a pipe or a socket is an error that says
 * why, read with a bounded buffer; /proc files (stat size 0) still read in full. Runs the rocklet as its own process
 * with the default limit, so that its resident memory can be watched.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_OPTIONS } from "../../plugins/programs/rocklet/server.ts";
import { scratchDir } from "./harness.ts";
import { ENTRY, type RockletProcess, spawnRocklet } from "./process-harness.ts";

const LIMIT = DEFAULT_OPTIONS.maxReadBytes;
const TOKEN = "read-limits-token";
let rocklet: RockletProcess;
let dir: string;

beforeAll(async () => {
  dir = scratchDir("read-limits-");
  rocklet = await spawnRocklet([process.execPath, ENTRY, "--host", "127.0.0.1", "--port", "0"], { ROCKLET_TOKEN: TOKEN });
});
afterAll(async () => {
  await rocklet?.stop();
});

async function readFile(path: string) {
  const started = performance.now();
  const res = await fetch(`http://127.0.0.1:${rocklet.port}/read_file`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ path }),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: res.status, body: (await res.json()) as any, ms: performance.now() - started };
}

/** The rocklet process's resident set, in bytes. */
async function rss(): Promise<number> {
  const status = await Bun.file(`/proc/${rocklet.proc.pid}/status`).text();
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

describe("read_file limits (default 16 MiB)", () => {
  test("a sparse 2 GiB file is refused at once, naming the file, its size, the limit and other ways to read it", async () => {
    const path = join(dir, "sparse-2g.bin");
    writeFileSync(path, "");
    truncateSync(path, 2 * 1024 ** 3);
    const before = await rss();
    const { status, body, ms } = await readFile(path);
    expect(status).toBe(511);
    expect(body.rockletexception.class_path).toBe("builtins.OSError");
    const message: string = body.rockletexception.message;
    expect(message).toContain(`'${path}' is 2147483648 bytes`);
    expect(message).toContain(`at most ${LIMIT} bytes (16 MiB`);
    expect(message).toContain("--max-read-bytes");
    expect(message).toContain("head -c");
    expect(ms).toBeLessThan(2000);
    expect((await rss()) - before).toBeLessThan(64 * 1024 ** 2);
  });

  test("a file of exactly the limit is returned whole; one byte more is refused", async () => {
    const path = join(dir, "at-limit.txt");
    const line = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n"; // 64 bytes
    const content = line.repeat(LIMIT / 64 - 1) + "x".repeat(63) + "\n";
    expect(content.length).toBe(LIMIT);
    writeFileSync(path, content);
    const whole = await readFile(path);
    expect(whole.status).toBe(200);
    expect(whole.body.content.length).toBe(LIMIT);
    expect(whole.body.content === content).toBe(true);

    writeFileSync(path, content + "!");
    const over = await readFile(path);
    expect(over.status).toBe(511);
    expect(over.body.rockletexception.message).toContain(`is ${LIMIT + 1} bytes`);
  });

  test("/dev/zero and /dev/urandom: refused after a bounded read, quickly, without growing the rocklet", async () => {
    const before = await rss();
    for (const path of ["/dev/zero", "/dev/urandom"]) {
      const { status, body, ms } = await readFile(path);
      expect(status).toBe(511);
      expect(body.rockletexception.message).toContain(`'${path}' is more than ${LIMIT} bytes`);
      expect(ms).toBeLessThan(5000);
    }
    expect((await rss()) - before).toBeLessThan(128 * 1024 ** 2);
  });

  test("/proc files, whose stat size is 0, are read in full; /dev/null and an empty file are empty", async () => {
    const status = await readFile("/proc/self/status");
    expect(status.status).toBe(200);
    expect(status.body.content).toStartWith("Name:");
    expect(status.body.content).toContain(`\nPid:\t${rocklet.proc.pid}\n`);
    expect(status.body.content).toContain("VmRSS:");

    const empty = join(dir, "empty.txt");
    writeFileSync(empty, "");
    expect((await readFile(empty)).body).toEqual({ content: "" });
    expect((await readFile("/dev/null")).body).toEqual({ content: "" });
  });

  test("a FIFO without a writer is refused at once instead of hanging", async () => {
    const fifo = join(dir, "pipe");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const { status, body, ms } = await readFile(fifo);
    expect(status).toBe(511);
    expect(body.rockletexception.message).toContain(`'${fifo}' is a FIFO (named pipe), not a regular file`);
    expect(ms).toBeLessThan(2000);
  });

  test("a socket and a directory are refused, naming them", async () => {
    const socketPath = join(dir, "sock");
    const listener = Bun.listen({ unix: socketPath, socket: { data() {} } });
    try {
      const socket = await readFile(socketPath);
      expect(socket.status).toBe(511);
      expect(socket.body.rockletexception.message).toBe(`[Errno 6] No such device or address: '${socketPath}'`);
    } finally {
      listener.stop(true);
    }

    const sub = join(dir, "a-directory");
    mkdirSync(sub);
    const directory = await readFile(sub);
    expect(directory.status).toBe(511);
    expect(directory.body.rockletexception).toMatchObject({
      class_path: "builtins.IsADirectoryError",
      message: `[Errno 21] Is a directory: '${sub}'`,
    });
  });
});
