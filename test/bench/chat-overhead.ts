/**
 * Overhead of the assistant's /v1/chat/completions over calling the same upstream directly.
 * Three processes, as in production: this client, the upstream (a loopback OpenAI-compatible server that answers
 * instantly) and `bun run rock` with the openai plugin pointed at it. Both paths are measured in this run.
 *
 *   bun test/bench/chat-overhead.ts [requests-per-cell]
 */
import { join } from "node:path";
import { freePort, repoRoot, tempProject, waitForHttp } from "../support/project.ts";
import { ms, percentile, sample, spawnAndReadLine } from "./support/measure.ts";

const count = Number(process.argv[2] ?? 2000);
const { child: upstream, line: upstreamPort } = await spawnAndReadLine([process.execPath, join(import.meta.dir, "support/instant-upstream.ts")]);

const project = tempProject();
const port = freePort();
const config = project.config(
  `log:\n  level: warn\nplugins:\n  openai:\n    api_base: http://127.0.0.1:${upstreamPort}/v1\n    model: bench\n    supports_tools: false\n  assistant:\n    port: ${port}\n    model_server: openai\n`,
);
const rock = Bun.spawn([process.execPath, join(repoRoot, "core/cli.ts")], { env: { ...process.env, ROCK_CONFIG: config }, stdout: "ignore", stderr: "inherit" });
await waitForHttp(`http://127.0.0.1:${port}/health`);

const ours = `http://127.0.0.1:${port}/v1/chat/completions`;
const direct = `http://127.0.0.1:${upstreamPort}/v1/chat/completions`;
const body = (stream: boolean) => JSON.stringify({ model: "bench", stream, messages: [{ role: "user", content: "hi" }] });

/** Milliseconds to the whole body (non-stream) or to the first content byte (stream). */
async function once(url: string, stream: boolean): Promise<number> {
  const began = performance.now();
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: body(stream) });
  if (!stream) {
    await res.arrayBuffer();
    return performance.now() - began;
  }
  const decoder = new TextDecoder();
  let seen = "";
  let ttft = 0;
  for await (const piece of res.body!) {
    seen += decoder.decode(piece, { stream: true });
    if (!ttft && seen.includes('"content"')) ttft = performance.now() - began;
  }
  return ttft;
}

console.log(`chat completions, ${count} requests per cell, loopback, times in ms`);
console.log("mode         conc | direct p50    p99 |   ours p50    p99 | added p50    p99");
for (const stream of [false, true]) {
  for (const concurrency of [1, 16]) {
    await sample(200, concurrency, () => once(direct, stream));
    await sample(200, concurrency, () => once(ours, stream));
    const d = await sample(count, concurrency, () => once(direct, stream));
    const o = await sample(count, concurrency, () => once(ours, stream));
    const mode = stream ? "stream TTFT" : "non-stream ";
    const row = [percentile(d, 50), percentile(d, 99), percentile(o, 50), percentile(o, 99)].map(ms);
    console.log(`${mode} ${String(concurrency).padStart(5)} | ${row[0]} ${row[1]} | ${row[2]} ${row[3]} | ${ms(percentile(o, 50) - percentile(d, 50))} ${ms(percentile(o, 99) - percentile(d, 99))}`);
  }
}
// wrk costs far less CPU per request than a Bun client, so on a small machine it leaves more of it to the servers
// being measured. It times whole responses: for a stream that is an upper bound of time to first token.
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
  console.log("\nwith wrk as the client (whole responses)");
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

rock.kill("SIGTERM");
upstream.kill();
await rock.exited;
project.remove();
