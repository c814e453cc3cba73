/**
 * Added latency of the `/v1/assistants/lite` agent loop per model call (turn), against calling the same loopback model
 * directly. Three processes: this load generator, a loopback upstream streaming ReAct text (support/react-upstream.ts)
 * and `bun run rock` with the openai plugin pointed at it and RenewInstance in process. Two cells: one turn (plain
 * answer) and two turns (RenewInstance called, observation fed back, final answer); the direct baseline makes the
 * same upstream calls one after the other. Rounds alternate direct/ours so that a slow moment hits both; the table
 * gives medians over rounds. Target: ≤ 1 ms p50 added per turn.
 *
 *   bun test/bench/assistant-lite.ts [requests-per-round] [rounds]
 */
import { join } from "node:path";
import { freePort, tempProject } from "../support/project.ts";
import { ms, percentile, sample, spawnAndReadLine } from "./support/measure.ts";
import { startRockProcess } from "./support/rock-process.ts";

const count = Number(process.argv[2] ?? 1000);
const rounds = Number(process.argv[3] ?? 5);
const { child: upstream, line: upstreamPort } = await spawnAndReadLine([process.execPath, join(import.meta.dir, "support/react-upstream.ts")]);

const project = tempProject();
const port = freePort();
const config = project.config(`log:
  level: warn
plugins:
  openai:
    api_base: http://127.0.0.1:${upstreamPort}/v1
    model: bench
    supports_tools: false
  renew-instance: {}
  assistant:
    port: ${port}
    model_server: openai
    tools: [renew-instance]
`);
const rock = await startRockProcess(config, `http://127.0.0.1:${port}/health`);

const lite = `http://127.0.0.1:${port}/v1/assistants/lite`;
const direct = `http://127.0.0.1:${upstreamPort}/v1/chat/completions`;
const query = "renew i-1 for a month";
const liteBody = (model: string) =>
  JSON.stringify({ messages: [{ role: "user", content: query }], llm_config: { model, model_server: "openai" }, agent_config: { instruction: "You renew instances.", tools: ["RenewInstance"] } });
const directBody = (model: string, content: string) => JSON.stringify({ model, stream: true, stop: ["Observation:", "Observation:\n"], messages: [{ role: "system", content: "x" }, { role: "user", content }] });
const post = async (url: string, body: string) => {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  await response.text();
};
const timed = (once: () => Promise<unknown>) => async () => {
  const start = performance.now();
  await once();
  return performance.now() - start;
};

const cells = [
  { name: "1 turn (answer)        ", turns: 1, ours: timed(() => post(lite, liteBody("plain"))), direct: timed(() => post(direct, directBody("plain", query))) },
  {
    name: "2 turns (tool + answer)",
    turns: 2,
    ours: timed(() => post(lite, liteBody("act"))),
    direct: timed(async () => {
      await post(direct, directBody("act", query));
      await post(direct, directBody("act", `${query}\nObservation: <result>{'result': 'ok'}</result>\nAnswer:`));
    }),
  },
];
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

console.log(`/v1/assistants/lite vs direct model calls, loopback, concurrency 1, ${rounds} alternating rounds of ${count}; medians over rounds, ms`);
console.log("cell                    | direct p50   p99 |   ours p50   p99 | added/turn p50   p99 | ours/direct p50");
for (const cell of cells) {
  await sample(500, 1, cell.direct); // warm-up
  await sample(1000, 1, cell.ours);
  const d: [number, number][] = [];
  const o: [number, number][] = [];
  for (let round = 0; round < rounds; round++) {
    const dt = await sample(count, 1, cell.direct);
    const ot = await sample(count, 1, cell.ours);
    d.push([percentile(dt, 50), percentile(dt, 99)]);
    o.push([percentile(ot, 50), percentile(ot, 99)]);
  }
  const [d50, d99, o50, o99] = [median(d.map((x) => x[0])), median(d.map((x) => x[1])), median(o.map((x) => x[0])), median(o.map((x) => x[1]))];
  const added50 = median(o.map((x, i) => (x[0] - d[i][0]) / cell.turns));
  const added99 = median(o.map((x, i) => (x[1] - d[i][1]) / cell.turns));
  console.log(`${cell.name} | ${ms(d50)} ${ms(d99)} | ${ms(o50)} ${ms(o99)} | ${ms(added50)}     ${ms(added99)} | ${(o50 / d50).toFixed(2)}x`);
}

rock.kill("SIGTERM");
await rock.exited;
upstream.kill();
project.remove();
