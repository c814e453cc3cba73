/**
 * Each service port serves its own service's metrics plus the process metrics once, so that a Prometheus scraping
 * every port sums to the real totals; counters and histograms carry prometheus_client's `_created` series.
 * Scraped by a real Prometheus server and checked with promtool.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import { available } from "../support/env.ts";
import { freePort, tempProject, waitForHttp, type TempProject } from "../support/project.ts";

const prometheus = Bun.which("prometheus") ?? undefined;
const promtool = Bun.which("promtool") ?? undefined;

const service = (name: string) => `{
  name: "${name}",
  kind: "service",
  version: "1.0.0",
  defaultPort: 0,
  metricsPrefix: "demo_${name}_",
  setup(ctx) {
    const hits = ctx.metrics.counter({ name: "hits_total", help: "hits", labelNames: ["kind"] });
    const sizes = ctx.metrics.histogram({ name: "size_bytes", help: "sizes", buckets: [10, 100] });
    return { http: { mount: (app) => app.get("/hit/:kind", ({ params }) => { hits.inc({ kind: params.kind }); sizes.observe(params.kind.length); return "ok"; }) } };
  },
}`;

let project: TempProject;
let kernel: Kernel;
let alpha: string;
let beta: string;
let started: number;
/** `/hit` requests made so far, over both services. */
let hits = 0;
const hit = async (base: string, kind: string) => {
  hits++;
  expect((await fetch(`${base}/hit/${kind}`)).status).toBe(200);
};

beforeAll(async () => {
  started = Date.now() / 1000;
  project = tempProject();
  project.plugin("plugins/services", "alpha", service("alpha"));
  project.plugin("plugins/services", "beta", service("beta"));
  project.config("plugins:\n  alpha: {}\n  beta: {}\n");
  kernel = await Kernel.load({ root: project.root });
  await kernel.start();
  alpha = kernel.server("alpha")!.url;
  beta = kernel.server("beta")!.url;
  for (const kind of ["a", "a", "b"]) await hit(alpha, kind);
  for (const kind of ["a", "a"]) await hit(beta, kind);
});

afterAll(async () => {
  await kernel?.stop();
  project?.remove();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample line of Prometheus text (what promtool and Prometheus accepted before this is called). */
function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

const scrape = async (base: string) => (await fetch(`${base}/metrics`)).text();
const sum = (list: Sample[], name: string, labels: Record<string, string> = {}) =>
  list.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((total, s) => total + s.value, 0);

describe("/metrics per port", () => {
  test("each port has its own service's series only; summed over the ports, totals are the real ones", async () => {
    const [a, b] = (await Promise.all([scrape(alpha), scrape(beta)])).map(samples);
    expect(a.filter((s) => s.labels.server === "beta" || s.name.startsWith("demo_beta_"))).toEqual([]);
    expect(b.filter((s) => s.labels.server === "alpha" || s.name.startsWith("demo_alpha_"))).toEqual([]);
    const both = [...a, ...b];
    expect(sum(both, "rock_http_requests_total", { route: "/hit/:kind" })).toBe(hits);
    expect(sum(both, "rock_http_request_duration_seconds_count", { route: "/hit/:kind" })).toBe(hits);
    expect(sum(both, "demo_alpha_hits_total", { kind: "a" })).toBe(2);
    expect(sum(both, "demo_beta_hits_total", { kind: "a" })).toBe(2);
    // The process metrics once per port.
    for (const list of [a, b]) expect(list.filter((s) => s.name === "process_cpu_seconds_total")).toHaveLength(1);
  });

  test("promtool accepts every port's text (no duplicate series)", async () => {
    if (!available("promtool", promtool)) return;
    for (const base of [alpha, beta]) {
      const check = Bun.spawnSync([promtool!, "check", "metrics"], { stdin: new TextEncoder().encode(await scrape(base)) });
      const out = check.stdout.toString() + check.stderr.toString();
      expect(out.split("\n").filter((line) => line && !line.startsWith("nodejs_") && !line.startsWith("process_"))).toEqual([]);
      expect([0, 3]).toContain(check.exitCode ?? -1); // 3: lint warnings only
    }
  });

  test("counters and histograms have prometheus_client's _created: per label set, unix seconds, stable across scrapes", async () => {
    const first = samples(await scrape(alpha));
    const created = (list: Sample[], name: string, labels: Record<string, string> = {}) =>
      list.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).map((s) => s.value);
    const now = Date.now() / 1000;
    const hitsA = created(first, "demo_alpha_hits_created", { kind: "a" });
    const hitsB = created(first, "demo_alpha_hits_created", { kind: "b" });
    const sizes = created(first, "demo_alpha_size_bytes_created");
    const http = created(first, "rock_http_requests_created", { server: "alpha", route: "/hit/:kind", status: "200" });
    const duration = created(first, "rock_http_request_duration_seconds_created", { server: "alpha", route: "/hit/:kind" });
    for (const values of [hitsA, hitsB, sizes, http, duration]) {
      expect(values).toHaveLength(1);
      expect(values[0]).toBeGreaterThanOrEqual(started - 1);
      expect(values[0]).toBeLessThanOrEqual(now);
    }
    // The label set kind="b" appeared after kind="a".
    expect(hitsB[0]).toBeGreaterThan(hitsA[0]);
    // No _created for gauges nor for the process collector (prometheus_client's has none).
    expect(first.filter((s) => s.name.startsWith("process_") && s.name.endsWith("_created"))).toEqual([]);
    // prometheus_client writes the value the way Go prints floats: 1.7e+09 style.
    expect(await scrape(alpha)).toMatch(/\ndemo_alpha_hits_created\{kind="a"\} \d\.\d+e\+09\n/);

    await hit(alpha, "a");
    const second = samples(await scrape(alpha));
    expect(created(second, "demo_alpha_hits_created", { kind: "a" })).toEqual(hitsA);
    expect(created(second, "rock_http_requests_created", { server: "alpha", route: "/hit/:kind", status: "200" })).toEqual(http);
    expect(sum(second, "demo_alpha_hits_total", { kind: "a" })).toBe(3);
  });

  test("a real Prometheus scraping both ports: sums are the real totals, _created does not change", async () => {
    if (!available("prometheus", prometheus)) return;
    const dir = mkdtempSync(join(tmpdir(), "rock-prom-"));
    const web = freePort();
    const targets = [alpha, beta].map((url) => new URL(url).host);
    writeFileSync(join(dir, "prometheus.yml"), `global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n  - job_name: rock\n    static_configs: [{targets: ${JSON.stringify(targets)}}]\n`);
    const server = Bun.spawn(
      [prometheus!, `--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${web}`, "--log.level=error"],
      { stdout: "ignore", stderr: "pipe" },
    );
    const query = async (q: string) => {
      const body = await (await fetch(`http://127.0.0.1:${web}/api/v1/query?query=${encodeURIComponent(q)}`)).json();
      return (body as any).data.result as { metric: Record<string, string>; value: [number, string] }[];
    };
    try {
      await waitForHttp(`http://127.0.0.1:${web}/-/ready`);
      // Three scrapes of each port at least.
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const counts = await query("count_over_time(up[1m])").catch(() => []);
        if (counts.length === 2 && counts.every((r) => Number(r.value[1]) >= 3)) break;
        await Bun.sleep(250);
      }
      expect((await query("up")).map((r) => r.value[1])).toEqual(["1", "1"]);
      const requests = await query('sum(rock_http_requests_total{route="/hit/:kind"})');
      expect(Number(requests[0].value[1])).toBe(hits);
      expect((await query("count by (instance) (process_resident_memory_bytes)")).map((r) => r.value[1])).toEqual(["1", "1"]);
      const created = await query('demo_alpha_hits_created{kind="a"}');
      expect(created).toHaveLength(1);
      expect((await query('max(changes(rock_http_requests_created[1m])) + max(changes(demo_alpha_hits_created[1m]))'))[0].value[1]).toBe("0");
    } finally {
      server.kill();
      await server.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});
