/**
 * Overhead of the assistant's /v1/chat/completions over calling the same upstream directly.
 * Three processes, as in production: the load generator, the upstream (a loopback OpenAI-compatible server that
 * answers instantly) and `bun run rock` with the openai plugin pointed at it. Both paths are measured in this run,
 * in alternating rounds, so that a slow moment of the machine hits both; the table gives medians over the rounds.
 *
 *   bun test/bench/chat-overhead.ts [requests-per-round] [rounds]
 */
import { join } from "node:path";
import { tempProject } from "../support/project.ts";
import { startChatServer } from "./support/chat-server.ts";
import { runLoad } from "./support/http-load.ts";
import { ms, percentile, spawnAndReadLine } from "./support/measure.ts";

const count = Number(process.argv[2] ?? 3000);
const rounds = Number(process.argv[3] ?? 5);
const { child: upstream, line: upstreamPort } = await spawnAndReadLine([process.execPath, join(import.meta.dir, "support/instant-upstream.ts")]);

const rock = await startChatServer(upstreamPort);
const project = tempProject();

const ours = rock.url;
const direct = `http://127.0.0.1:${upstreamPort}/v1/chat/completions`;
const body = (stream: boolean) => JSON.stringify({ model: "bench", stream, messages: [{ role: "user", content: "hi" }] });
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** p50 and p99 in ms of the whole answer (non-stream) or of the first content (stream). */
async function measure(url: string, stream: boolean, concurrency: number, requests: number): Promise<[number, number]> {
  const result = await runLoad({ url, body: body(stream), concurrency, requests, marker: '"content"' });
  if (result.failed) throw new Error(`${result.failed} requests to ${url} failed`);
  const times = stream ? result.marker : result.total;
  return [percentile(times, 50), percentile(times, 99)];
}

console.log(`chat completions, loopback, ${rounds} alternating rounds of ${count} requests per cell; medians over rounds, times in ms`);
console.log("mode         conc | direct p50    p99 |   ours p50    p99 | added p50    p99 | added p50 range");
for (const stream of [false, true]) {
  for (const concurrency of [1, 16]) {
    // Warm-up: the JIT settles on the server's hot path only after a few thousand requests.
    await measure(direct, stream, concurrency, 2000);
    await measure(ours, stream, concurrency, 3000);
    const d: [number, number][] = [];
    const o: [number, number][] = [];
    for (let round = 0; round < rounds; round++) {
      d.push(await measure(direct, stream, concurrency, count));
      o.push(await measure(ours, stream, concurrency, count));
    }
    const added50 = o.map((x, i) => x[0] - d[i][0]);
    const added99 = o.map((x, i) => x[1] - d[i][1]);
    const row = [median(d.map((x) => x[0])), median(d.map((x) => x[1])), median(o.map((x) => x[0])), median(o.map((x) => x[1]))].map(ms);
    const mode = stream ? "stream TTFT" : "non-stream ";
    const range = `${Math.min(...added50).toFixed(2)}–${Math.max(...added50).toFixed(2)}`;
    console.log(`${mode} ${String(concurrency).padStart(5)} | ${row[0]} ${row[1]} | ${row[2]} ${row[3]} | ${ms(median(added50))} ${ms(median(added99))} | ${range}`);
  }
}
// wrk, where installed, is a second opinion from a client written in C. It times whole responses only: for a
// stream that is an upper bound of the time to the first token.
const wrk = Bun.which("wrk");
if (wrk) {
  const script = join(project.root, "post.lua");
  await Bun.write(script, 'wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\nwrk.body = os.getenv("BODY")\n');
  const run = (url: string, stream: boolean, concurrency: number) => {
    const out = Bun.spawnSync([wrk, "-t1", `-c${concurrency}`, "-d3s", "--latency", "-s", script, url], { env: { ...process.env, BODY: body(stream) } }).stdout.toString();
    const value = (label: string) => {
      const m = new RegExp(`^\\s+${label}%\\s+([\\d.]+)(us|ms|s)`, "m").exec(out);
      return m ? Number(m[1]) * (m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1) : NaN;
    };
    return [value("50"), value("99")];
  };
  console.log("\nwith wrk as the client (whole responses, one 3 s run per cell)");
  console.log("mode         conc | direct p50    p99 |   ours p50    p99 | added p50    p99");
  for (const stream of [false, true]) {
    for (const concurrency of [1, 16]) {
      const [d50, d99] = run(direct, stream, concurrency);
      const [o50, o99] = run(ours, stream, concurrency);
      const mode = stream ? "stream total" : "non-stream  ";
      console.log(`${mode} ${String(concurrency).padStart(4)} | ${ms(d50)} ${ms(d99)} | ${ms(o50)} ${ms(o99)} | ${ms(o50 - d50)} ${ms(o99 - d99)}`);
    }
  }
}

await rock.stop();
upstream.kill();
project.remove();
