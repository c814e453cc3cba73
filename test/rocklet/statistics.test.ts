import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestRocklet, type TestRocklet } from "./harness.ts";

let rocklet: TestRocklet;

beforeAll(() => {
  rocklet = startTestRocklet();
});
afterAll(async () => {
  await rocklet.stop();
});

test("get_statistics has ROCK's shape with percentages or nulls", async () => {
  await Bun.sleep(50);
  const { status, body } = await rocklet.get("/get_statistics");
  expect(status).toBe(200);
  expect(Object.keys(body).sort()).toEqual(["cpu", "disk", "disk_dind_percent", "disk_log_percent", "mem", "net"]);
  for (const key of ["cpu", "mem", "disk", "disk_log_percent", "disk_dind_percent"]) {
    const value = body[key];
    expect(value === null || (typeof value === "number" && value >= 0 && value <= 100)).toBe(true);
  }
  expect(typeof body.mem).toBe("number");
  expect(typeof body.disk).toBe("number");
  expect(body.net === null || body.net >= 0).toBe(true);
});
