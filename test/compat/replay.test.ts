/**
 * The requests ROCK's own SDKs (Python rl-rock 1.11.0 and the TypeScript SDK of the same tag) sent during a full
 * scenario (`fixtures/*.jsonl`: method, path with query, body), replayed in order against a real admin (local
 * deployment, real rocklets) and envhub, with the recorded sandbox ids replaced by live ones. None may be refused for
 * its shape (no 400/422, no "invalid parameter"); answers that depend on state (a session that was closed, a pid
 * that is gone) are fine. Where ROCK's reference documents an answer's shape, the answer has it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import { ensureRockletBinary } from "../deployments/support.ts";
import { repoRoot, tempProject, type TempProject } from "../support/project.ts";

interface Recorded {
  client: string;
  method: "GET" | "POST";
  path: string;
  body?: unknown;
  body_raw?: string;
}

const api = "/apis/envs/sandbox/v1";
const fixture = (name: string): Recorded[] =>
  readFileSync(join(import.meta.dir, "fixtures", name), "utf8")
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));

const ID = /\b[0-9a-f]{32}\b/g;

/** The result shapes ROCK's reference (§1.2, §1.6, §1.8) documents, by route. */
const shapes: Record<string, string[]> = {
  start_async: ["code", "exit_code", "failure_reason", "sandbox_id", "host_name", "host_ip", "cpus", "memory", "disk"],
  restart: ["sandbox_id", "host_name", "host_ip"],
  get_status: ["sandbox_id", "status", "state", "port_mapping", "host_name", "host_ip", "is_alive", "image", "user_id", "experiment_id", "namespace", "cpus", "memory", "state_history"],
  execute: ["stdout", "stderr", "exit_code"],
  create_session: ["output", "session_type"],
  run_in_session: ["output", "exit_code", "failure_reason", "expect_string", "session_type"],
  close_session: ["session_type"],
  read_file: ["content"],
  write_file: ["success", "message"],
  upload: ["success", "message", "file_name"],
};
const envInfo = ["env_name", "image", "owner", "description", "tags", "extra_spec", "create_at", "update_at"];

let project: TempProject;
let kernel: Kernel;
let adminUrl: string;
let envhubUrl: string;
const started = new Set<string>();

beforeAll(async () => {
  await ensureRockletBinary();
  project = tempProject("rock-compat-");
  const yaml = `plugins:
  local:
    stop_grace_ms: 200
  local-operator: {}
  admin:
    port: 0
    reconcile_interval_ms: 600000
  envhub:
    port: 0
`;
  kernel = await Kernel.load({ root: repoRoot, configFile: project.config(yaml), env: { ROCK_DATA_DIR: join(project.root, "data") } });
  await kernel.start();
  adminUrl = kernel.server("admin")!.url;
  envhubUrl = kernel.server("envhub")!.url;
}, 60_000);

afterAll(async () => {
  for (const id of started) await fetch(`${adminUrl}${api}/stop`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sandbox_id: id }) }).catch(() => {});
  await kernel?.stop();
  project?.remove();
});

async function send(base: string, request: Recorded, live: (text: string) => string, current: string | undefined): Promise<Response> {
  const url = base + live(request.path);
  if (request.body_raw !== undefined) {
    // The recording kept only the size of the multipart upload: the same fields, with a small file.
    const form = new FormData();
    form.append("sandbox_id", current!);
    form.append("target_path", `/tmp/compat-upload/${crypto.randomUUID()}.txt`);
    form.append("file", new File(["uploaded by the replay\n"], "f.txt"));
    return fetch(url, { method: request.method, body: form });
  }
  if (request.body === undefined) return fetch(url, { method: request.method });
  return fetch(url, { method: request.method, headers: { "content-type": "application/json" }, body: live(JSON.stringify(request.body)) });
}

async function waitRunning(id: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const answer = await (await fetch(`${adminUrl}${api}/get_status?sandbox_id=${id}`)).json();
    if (answer.result?.is_alive) return;
    await Bun.sleep(50);
  }
  throw new Error(`sandbox ${id} did not come up`);
}

function replay(file: string) {
  test(`${file}: every request is taken; documented answers have the original's shape`, async () => {
    const requests = fixture(file);
    const ids = new Map<string, string>();
    let latest: string | undefined;
    const live = (text: string) =>
      text.replace(ID, (recorded) => {
        if (!ids.has(recorded)) ids.set(recorded, latest ?? recorded);
        return ids.get(recorded)!;
      });
    const refused: string[] = [];
    const misshapen: string[] = [];
    for (const [index, request] of requests.entries()) {
      const route = request.path.split("?")[0];
      const name = route.split("/").at(-1)!;
      // Both SDKs' envhub clients ask /health before their /env calls.
      const toEnvhub = route.startsWith("/env/") || (route === "/health" && requests.slice(index + 1).some((r) => r.path.startsWith("/env/")));
      const res = await send(toEnvhub ? envhubUrl : adminUrl, request, live, latest);
      const text = await res.text();
      const where = `#${index} ${request.method} ${request.path}`;
      if (process.env.COMPAT_DEBUG) console.log(where.slice(0, 90), res.status, text.slice(0, 160));
      if (res.status === 400 || res.status === 422) refused.push(`${where}: HTTP ${res.status} ${text.slice(0, 200)}`);
      let answer: any;
      try {
        answer = JSON.parse(text);
      } catch {
        misshapen.push(`${where}: not JSON: ${text.slice(0, 100)}`);
        continue;
      }
      if (route.startsWith(api)) {
        expect(Object.keys(answer).sort()).toEqual(["error", "message", "result", "status"]);
        if (answer.message === "invalid parameter") refused.push(`${where}: ${answer.error}`);
        if (answer.status !== "Success") continue;
        const keys = shapes[name];
        if (keys) for (const key of keys) if (!(key in answer.result)) misshapen.push(`${where}: result has no '${key}'`);
        if (name === "stop" && answer.result !== `${live(JSON.stringify((request.body as any).sandbox_id)).replace(/"/g, "")} stopped`) misshapen.push(`${where}: ${text}`);
        if (name === "delete" && !/ deleted$/.test(answer.result)) misshapen.push(`${where}: ${text}`);
        if (name === "get_token" && answer.result !== null) misshapen.push(`${where}: ${text}`);
        if (name === "start_async") {
          latest = answer.result.sandbox_id;
          started.add(latest!);
          await waitRunning(latest!);
        }
        if (name === "restart") await waitRunning(answer.result.sandbox_id);
      } else if (route === "/health") {
        if (text !== (toEnvhub ? '{"status":"ok"}' : '{"status":"ok","service":"admin"}')) misshapen.push(`${where}: ${text}`);
      } else if (res.status === 200) {
        if (name === "register" || name === "get") for (const key of envInfo) if (!(key in answer)) misshapen.push(`${where}: no '${key}'`);
        if (name === "list" && !Array.isArray(answer.envs)) misshapen.push(`${where}: ${text.slice(0, 100)}`);
        if (name === "delete" && answer !== true) misshapen.push(`${where}: ${text}`);
      } else if (!(res.status === 404 && typeof answer.detail === "string")) misshapen.push(`${where}: HTTP ${res.status} ${text.slice(0, 200)}`);
    }
    expect(refused).toEqual([]);
    expect(misshapen).toEqual([]);
    expect(ids.size).toBeGreaterThan(0);
  }, 180_000);
}

describe("ROCK's own SDKs, replayed", () => {
  replay("rock-python-sdk.requests.jsonl");
  replay("rock-ts-sdk.requests.jsonl");
});

describe("what the SDKs rely on", () => {
  test("get_status of a stopped sandbox is found with include_all_states=True (Python SDK) and true (TS SDK)", async () => {
    const post = (path: string, body: unknown) => fetch(`${adminUrl}${api}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.json());
    const start = await post("/start", { image: "rock-test-sandbox:latest", memory: "512m", cpus: 1, disk: null, sandbox_id: null, num_gpus: null });
    expect(start.status).toBe("Success");
    const id = start.result.sandbox_id;
    started.add(id);
    expect((await post("/stop", { sandbox_id: id })).status).toBe("Success");
    for (const [flag, found] of [["True", true], ["true", true], ["1", true], ["yes", true], ["False", false], ["false", false], ["0", false]] as const) {
      const answer = await (await fetch(`${adminUrl}${api}/get_status?sandbox_id=${id}&include_all_states=${flag}`)).json();
      expect([flag, answer.status]).toEqual([flag, found ? "Success" : "Failed"]);
      if (found) expect(answer.result.state).toBe("stopped");
      else expect(answer.error).toBe(`Sandbox ${id} not found`);
    }
  }, 60_000);

  test("required fields stay required: null is ROCK's 'invalid parameter' naming the field", async () => {
    const post = (path: string, body: unknown) => fetch(`${adminUrl}${api}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.json());
    for (const [path, body, field] of [
      ["/start", { image: null, disk: null }, "image"],
      ["/execute", { sandbox_id: null, command: "true", cwd: null }, "sandbox_id"],
      ["/run_in_session", { sandbox_id: "x", command: null, timeout: null }, "command"],
      ["/write_file", { sandbox_id: "x", path: "/tmp/a", content: null }, "content"],
    ] as const) {
      const answer = await post(path, body);
      expect([path, answer.status, answer.message]).toEqual([path, "Failed", "invalid parameter"]);
      expect(answer.error).toStartWith(`${field}:`);
    }
  });

  test("get_token without object storage: ROCK's envelope with result null", async () => {
    for (const query of ["?account=primary", "?account=legacy", ""]) {
      const res = await fetch(`${adminUrl}${api}/get_token${query}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: "Success", message: null, error: null, result: null });
    }
  });
});
