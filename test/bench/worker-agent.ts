/**
 * Worker chat through the Agent vs the same worker called directly: time to first byte and total time, at
 * concurrency 1 and 8. Three processes on loopback (this client, the Agent, the example worker with OpenCC on
 * both sides of the echo model). Run: `bun test/bench/worker-agent.ts [requests]`.
 */
import { percentile, ms, sample } from "./support/measure.ts";
import { eventually, form, history, startAgent, startWorker, stop } from "../workers/support.ts";

const requests = Number(process.argv[2] ?? 2000);
const input = history(["我用鼠标打开软件，", false]);

const agent = await startAgent({ agent: { health_interval_ms: 5000 } });
const worker = await startWorker("workers/example", { AGENT_ENDPOINT: agent.v1, CONCURRENT_LIMIT: "8", ROCK_LOG_LEVEL: "warn" });
await eventually(async () => ((await (await fetch(`${agent.v1}worker/list?name=example`)).json()) as string[]).length === 1, 10_000, "worker registered");

const targets = {
  direct: { url: worker.endpoint, fields: { input } },
  agent: { url: `${agent.v1}chat/completions`, fields: { name: "example", input } },
};

/** One request: [time to first byte, total] in ms. */
async function once(target: { url: string; fields: Record<string, string> }): Promise<[number, number]> {
  const start = performance.now();
  const response = await fetch(target.url, { method: "POST", body: form(target.fields) });
  const reader = response.body!.getReader();
  let first = 0;
  let text = "";
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!first) first = performance.now() - start;
    text += decoder.decode(value, { stream: true });
  }
  if (response.status !== 200 || text !== "我用滑鼠開啟軟體，") throw new Error(`unexpected answer ${response.status}: ${text}`);
  return [first, performance.now() - start];
}

async function measure(target: { url: string; fields: Record<string, string> }, concurrency: number) {
  const ttfb: number[] = [];
  const total = await sample(requests, concurrency, async () => {
    const [first, all] = await once(target);
    ttfb.push(first);
    return all;
  });
  ttfb.sort((a, b) => a - b);
  return { ttfb, total };
}

try {
  for (const target of Object.values(targets)) await sample(300, 8, async () => (await once(target))[1]); // warm-up
  console.log(`${requests} requests per row; ms\n`);
  console.log("concurrency  path    ttfb p50  ttfb p99  total p50  total p99");
  for (const concurrency of [1, 8]) {
    const direct = await measure(targets.direct, concurrency);
    const viaAgent = await measure(targets.agent, concurrency);
    for (const [name, r] of [["direct", direct], ["agent", viaAgent]] as const) {
      console.log(`${String(concurrency).padStart(11)}  ${name.padEnd(6)} ${ms(percentile(r.ttfb, 50))}   ${ms(percentile(r.ttfb, 99))}    ${ms(percentile(r.total, 50))}    ${ms(percentile(r.total, 99))}`);
    }
    const added = (p: number, pick: (r: typeof direct) => number[]) => ms(percentile(pick(viaAgent), p) - percentile(pick(direct), p));
    console.log(`${"".padStart(11)}  added  ${added(50, (r) => r.ttfb)}   ${added(99, (r) => r.ttfb)}    ${added(50, (r) => r.total)}    ${added(99, (r) => r.total)}\n`);
  }
} finally {
  await stop(worker);
  await stop(agent);
}
