import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { startTestRocklet, type TestRocklet } from "./harness.ts";

let rocklet: TestRocklet;

beforeAll(() => {
  rocklet = startTestRocklet({ maxSessions: 2 });
});
afterAll(async () => {
  await rocklet.stop();
});

describe("rocklet limits", () => {
  test("a session beyond --max-sessions is refused naming the limit; closing one makes room", async () => {
    for (const session of ["cap-a", "cap-b"]) expect((await rocklet.post("/create_session", { session })).status).toBe(200);
    const refused = await rocklet.post("/create_session", { session: "cap-c" });
    expect(refused.status).toBe(511);
    expect(refused.body.rockletexception.message).toBe(
      "cannot create session 'cap-c': this sandbox already has 2 open sessions, its limit (rocklet --max-sessions); close one first",
    );
    // Nothing half-made: the refused name is free, the others still work.
    expect((await rocklet.post("/run_in_session", { session: "cap-c", command: "true" })).body.rockletexception.class_path).toContain("SessionDoesNotExistError");
    expect((await rocklet.post("/run_in_session", { session: "cap-a", command: "echo still" })).body.output).toBe("still");
    await rocklet.post("/close_session", { session: "cap-b" });
    expect((await rocklet.post("/create_session", { session: "cap-c" })).status).toBe(200);
    await rocklet.post("/close_session", { session: "cap-a" });
    await rocklet.post("/close_session", { session: "cap-c" });
  });

  test("commands and sessions start as the OOM killer's first choice; the rocklet keeps its own score", async () => {
    const ownBefore = readFileSync("/proc/self/oom_score_adj", "utf8").trim();
    // The first thing the command forks already has the score: it is inherited from the spawn, not written later.
    const executed = await rocklet.post("/execute", { command: "cat /proc/self/oom_score_adj; cat /proc/$$/oom_score_adj" });
    expect(executed.body.stdout).toBe("1000\n1000\n");
    expect((await rocklet.post("/create_session", { session: "oom" })).status).toBe(200);
    const inSession = await rocklet.post("/run_in_session", { session: "oom", command: "cat /proc/$$/oom_score_adj; cat /proc/self/oom_score_adj" });
    expect(inSession.body.output).toBe("1000\n1000");
    await rocklet.post("/close_session", { session: "oom" });
    expect(readFileSync("/proc/self/oom_score_adj", "utf8").trim()).toBe(ownBefore);
  });
});
