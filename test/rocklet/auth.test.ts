import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestRocklet, type TestRocklet } from "./harness.ts";

let rocklet: TestRocklet;

beforeAll(() => {
  rocklet = startTestRocklet();
});
afterAll(async () => {
  await rocklet.stop();
});

describe("authentication", () => {
  test("GET / and GET /is_alive are public", async () => {
    expect(await rocklet.get("/", {})).toEqual({ status: 200, body: { message: "hello world" } });
    expect(await rocklet.get("/is_alive", {})).toEqual({ status: 200, body: { is_alive: true, message: "" } });
  });

  test("every other route needs the token", async () => {
    for (const path of ["/execute", "/create_session", "/run_in_session", "/read_file", "/write_file", "/upload", "/close"]) {
      const response = await rocklet.post(path, { command: "echo" }, {});
      expect(response.status).toBe(401);
      expect(response.body.detail).toContain("Authorization: Bearer");
    }
    expect((await rocklet.get("/get_statistics", {})).status).toBe(401);
    expect((await rocklet.post("/execute", { command: "echo" }, { authorization: "Bearer wrong" })).status).toBe(401);
    expect((await rocklet.post("/execute", { command: "echo" }, { authorization: rocklet.token })).status).toBe(401);
  });

  test("Bearer and X-Rocklet-Token are accepted", async () => {
    const bearer = await rocklet.post("/execute", { command: "echo ok" }, { authorization: `bearer ${rocklet.token}` });
    expect(bearer.body.stdout).toBe("ok\n");
    const header = await rocklet.post("/execute", { command: "echo ok" }, { "x-rocklet-token": rocklet.token });
    expect(header.body.stdout).toBe("ok\n");
  });

  test("commands never see ROCKLET_TOKEN", async () => {
    process.env.ROCKLET_TOKEN = "must-not-leak";
    try {
      const executed = await rocklet.post("/execute", { command: "echo ${ROCKLET_TOKEN:-absent}" });
      expect(executed.body.stdout).toBe("absent\n");
      await rocklet.post("/create_session", { session: "env-enabled", env_enable: true });
      const inSession = await rocklet.post("/run_in_session", {
        session: "env-enabled",
        command: "echo ${ROCKLET_TOKEN:-absent}",
      });
      expect(inSession.body.output).toBe("absent");
    } finally {
      delete process.env.ROCKLET_TOKEN;
    }
  });

  test("unknown routes and wrong methods", async () => {
    expect(await rocklet.get("/nope")).toEqual({ status: 404, body: { detail: "Not Found" } });
    expect(await rocklet.get("/execute")).toEqual({ status: 405, body: { detail: "Method Not Allowed" } });
  });
});
