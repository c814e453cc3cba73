import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Kernel } from "../../core/kernel.ts";
import { repoRoot, tempProject, type TempProject } from "../support/project.ts";

let project: TempProject;
let kernel: Kernel;
let base: string;

const post = (path: string, body: unknown) =>
  fetch(base + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

async function boot() {
  kernel = await Kernel.load({ root: repoRoot, configFile: project.config("plugins:\n  envhub:\n    port: 0\n"), env: { ROCK_DATA_DIR: project.root + "/data" } });
  await kernel.start();
  base = kernel.server("envhub")!.url;
}

beforeAll(async () => {
  project = tempProject();
  await boot();
});
afterAll(async () => {
  await kernel?.stop();
  project?.remove();
});

describe("envhub: ROCK's /env routes", () => {
  test("the default image is registered at start", async () => {
    const res = await post("/env/get", { env_name: "EnvhubDefaultDockerImage" });
    expect(await res.json()).toMatchObject({ image: "python:3.11", owner: "ENVHUB", tags: ["default", "system", "envhub"] });
  });

  test("register (upsert), get, list by owner and any-of tags, delete", async () => {
    const registered = await (await post("/env/register", { env_name: "swe", image: "swe:1", owner: "alice", tags: ["swe", "py"] })).json();
    expect(registered).toMatchObject({ env_name: "swe", image: "swe:1", owner: "alice", description: "", tags: ["swe", "py"], extra_spec: null });
    expect(registered.create_at).toBe(registered.update_at);
    await Bun.sleep(5);
    const updated = await (await post("/env/register", { env_name: "swe", image: "swe:2", owner: "alice", extra_spec: { cpus: 2 } })).json();
    expect(updated).toMatchObject({ image: "swe:2", extra_spec: { cpus: 2 }, create_at: registered.create_at });
    expect(updated.update_at > registered.update_at).toBe(true);
    await post("/env/register", { env_name: "web", image: "web:1", owner: "bob", tags: ["web"] });
    expect((await (await post("/env/list", { owner: "bob" })).json()).envs.map((e: any) => e.env_name)).toEqual(["web"]);
    expect((await (await post("/env/list", { tags: ["web", "system"] })).json()).envs.map((e: any) => e.env_name)).toEqual(["EnvhubDefaultDockerImage", "web"]);
    expect(await (await post("/env/delete", { env_name: "web" })).json()).toBe(true);
    const gone = await post("/env/delete", { env_name: "web" });
    expect(gone.status).toBe(404);
    expect(await gone.json()).toEqual({ detail: "Environment web not found or already deleted" });
  });

  test("/health answers exactly ROCK envhub's {\"status\":\"ok\"}", async () => {
    const res = await fetch(base + "/health");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"status":"ok"}');
  });

  test("optional fields sent as null are absent, as ROCK's pydantic models take them (the Python SDK's list_envs())", async () => {
    const registered = await post("/env/register", { env_name: "nulls", image: "n:1", owner: null, description: null, tags: null, extra_spec: null, unknown_field: 1 });
    expect(registered.status).toBe(200);
    const env = await registered.json();
    expect(env).toMatchObject({ env_name: "nulls", owner: "", description: "", tags: [], extra_spec: null });
    // Unknown fields are ignored, as pydantic ignores them.
    expect(env.unknown_field).toBeUndefined();
    const listed = await post("/env/list", { owner: null, tags: null });
    expect(listed.status).toBe(200);
    expect((await listed.json()).envs.map((e: any) => e.env_name)).toContain("nulls");
    // Required fields stay required.
    for (const body of [{ env_name: null, image: "i:1" }, { env_name: "x", image: null }]) {
      const refused = await post("/env/register", body);
      expect(refused.status).toBe(400);
      expect((await refused.json()).detail).toContain(body.env_name === null ? "env_name" : "image");
    }
  });

  test("records survive a restart (SQLite)", async () => {
    await post("/env/register", { env_name: "durable", image: "d:1" });
    await kernel.stop();
    await boot();
    expect((await (await post("/env/get", { env_name: "durable" })).json()).image).toBe("d:1");
  });

  test("bad input: unknown env 404, blank or missing fields 400 naming the field", async () => {
    const unknown = await post("/env/get", { env_name: "nope" });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ detail: "Environment nope not found" });
    const blank = await post("/env/register", { env_name: "   ", image: "x" });
    expect(blank.status).toBe(400);
    expect((await blank.json()).detail).toContain("env_name");
    const missing = await post("/env/register", { env_name: "x" });
    expect(missing.status).toBe(400);
    expect((await missing.json()).detail).toContain("image");
  });
});
