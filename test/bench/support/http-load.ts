/**
 * Drives the C load generator in http-load.c: `concurrency` keep-alive connections, each sending the same POST
 * again as soon as the previous answer is complete. It times the first response byte, the first byte of `marker`
 * (e.g. the first content of a stream) and the whole response. A client in JavaScript spends about as much CPU per
 * request as the servers it measures; on a small machine that CPU is taken from them, so the client is in C
 * (compiled on first use with the system's `cc`).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface LoadResult {
  /** Sorted milliseconds from writing the request to the response's first byte. */
  firstByte: number[];
  /** Sorted milliseconds to the first occurrence of the marker (or to the end when it never came). */
  marker: number[];
  /** Sorted milliseconds to the end of the response. */
  total: number[];
  /** Responses whose status was not 2xx. */
  failed: number;
}

let binary: string | undefined;

/** The compiled generator, built once per source version. */
function generator(): string {
  if (binary) return binary;
  const source = join(import.meta.dir, "http-load.c");
  const dir = join(tmpdir(), "rock-bench");
  const path = join(dir, `http-load-${Bun.hash(readFileSync(source)).toString(16)}`);
  if (!existsSync(path)) {
    const cc = Bun.which("cc") ?? Bun.which("gcc");
    if (!cc) throw new Error("the benchmark's load generator needs a C compiler: apt-get install gcc");
    mkdirSync(dir, { recursive: true });
    const build = Bun.spawnSync([cc, "-O2", "-o", path, source], { stderr: "pipe" });
    if (build.exitCode !== 0) throw new Error(`compiling ${source} failed:\n${build.stderr.toString()}`);
  }
  return (binary = path);
}

export async function runLoad(options: { url: string; body: string; concurrency: number; requests: number; marker?: string }): Promise<LoadResult> {
  const url = new URL(options.url);
  const payload = Buffer.from(options.body);
  const head = `POST ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\ncontent-length: ${payload.length}\r\n\r\n`;
  const requestFile = join(tmpdir(), `rock-bench-request-${process.pid}`);
  writeFileSync(requestFile, Buffer.concat([Buffer.from(head), payload]));
  const args = [url.hostname, url.port, requestFile, String(options.concurrency), String(options.requests), ...(options.marker ? [options.marker] : [])];
  const child = Bun.spawn([generator(), ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`load generator failed against ${options.url}: ${err.trim()}`);
  const result: LoadResult = { firstByte: [], marker: [], total: [], failed: 0 };
  for (const line of out.split("\n")) {
    if (line.startsWith("failed ")) result.failed = Number(line.slice(7));
    else if (line) {
      const [first, marker, total] = line.split(" ").map((us) => Number(us) / 1000);
      result.firstByte.push(first);
      result.marker.push(marker);
      result.total.push(total);
    }
  }
  for (const list of [result.firstByte, result.marker, result.total]) list.sort((a, b) => a - b);
  return result;
}
