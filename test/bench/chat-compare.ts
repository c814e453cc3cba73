/**
 * The chat path of this checkout against another one (a baseline: e.g. `git worktree add ../before <commit>` with its
 * own node_modules), both serving at once behind the same instant upstream, measured in alternating rounds so that a
 * slow moment of the machine hits both. Besides latency it gives each server's CPU time per request, which is far
 * steadier than latency on a noisy machine: the question "did this change make the chat path slower?" is answered by
 * that column first.
 *
 *   bun test/bench/chat-compare.ts <baseline-checkout> [requests-per-round] [rounds]
 */
import { join } from "node:path";
import { runLoad } from "./support/http-load.ts";
import { startChatServer, type ChatServer } from "./support/chat-server.ts";
import { ms, percentile, spawnAndReadLine } from "./support/measure.ts";

const baselineRoot = process.argv[2];
if (!baselineRoot) {
  console.error("usage: bun test/bench/chat-compare.ts <baseline-checkout> [requests-per-round] [rounds]");
  process.exit(2);
}
const count = Number(process.argv[3] ?? 5000);
const rounds = Number(process.argv[4] ?? 5);
const { child: upstream, line: upstreamPort } = await spawnAndReadLine([process.execPath, join(import.meta.dir, "support/instant-upstream.ts")]);
const baseline = await startChatServer(upstreamPort, baselineRoot);
const current = await startChatServer(upstreamPort);

const body = (stream: boolean) => JSON.stringify({ model: "bench", stream, messages: [{ role: "user", content: "hi" }] });
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** p50 and p99 (whole answer, or first content of a stream) and the server's CPU ms over the round. */
async function round(server: ChatServer, stream: boolean, concurrency: number, requests: number) {
  const cpuBefore = server.cpuMs();
  const result = await runLoad({ url: server.url, body: body(stream), concurrency, requests, marker: '"content"' });
  if (result.failed) throw new Error(`${result.failed} requests to ${server.url} failed`);
  const times = stream ? result.marker : result.total;
  return { p50: percentile(times, 50), p99: percentile(times, 99), cpuMs: server.cpuMs() - cpuBefore };
}

console.log(`chat completions, ${rounds} alternating rounds of ${count} requests per cell; medians over rounds; ms, CPU in µs per request`);
console.log("mode         conc | baseline p50   p99   cpu | current p50   p99   cpu | change p50  cpu");
for (const stream of [false, true]) {
  for (const concurrency of [1, 16]) {
    for (const server of [baseline, current]) await round(server, stream, concurrency, 3000); // warm-up
    const b: Awaited<ReturnType<typeof round>>[] = [];
    const c: typeof b = [];
    for (let i = 0; i < rounds; i++) {
      b.push(await round(baseline, stream, concurrency, count));
      c.push(await round(current, stream, concurrency, count));
    }
    const cpu = (rows: typeof b) => (rows.reduce((sum, r) => sum + r.cpuMs, 0) * 1000) / (rounds * count);
    const [b50, c50] = [median(b.map((r) => r.p50)), median(c.map((r) => r.p50))];
    const [bCpu, cCpu] = [cpu(b), cpu(c)];
    const mode = stream ? "stream TTFT" : "non-stream ";
    const us = (n: number) => n.toFixed(1).padStart(5);
    console.log(
      `${mode} ${String(concurrency).padStart(5)} | ${ms(b50)} ${ms(median(b.map((r) => r.p99)))} ${us(bCpu)} | ${ms(c50)} ${ms(median(c.map((r) => r.p99)))} ${us(cCpu)} | ${ms(c50 - b50)} ${us(cCpu - bCpu)}`,
    );
  }
}

await Promise.all([baseline.stop(), current.stop()]);
upstream.kill();
