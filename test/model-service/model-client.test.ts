import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requestLine, sessionEndLine } from "../../plugins/programs/model-service/log-records.ts";
import { AntiCallError, ModelClient } from "../../plugins/programs/model-service/model-client.ts";
import { repoRoot } from "./support/service.ts";

const base = join(repoRoot, "test", ".tmp", "model-service");
mkdirSync(base, { recursive: true });
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((f) => f()));

function setup(lines: string[] = []) {
  const dir = mkdtempSync(join(base, "client-"));
  const file = join(dir, "LLMService.log");
  writeFileSync(file, lines.join(""));
  const warnings: string[] = [];
  const client = new ModelClient(file, { pollIntervalMs: 1000, warn: (m) => warnings.push(m) });
  cleanups.push(() => {
    client.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { file, client, warnings, text: () => readFileSync(file, "utf8") };
}

const request = (n: number) => requestLine(JSON.stringify({ model: "m", messages: [{ role: "user", content: `turn ${n}` }] }), n);
const answer = (n: number) => JSON.stringify({ choices: [{ message: { role: "assistant", content: `answer ${n}` } }] });

describe("anti-call-llm index semantics", () => {
  test("index 0 waits for and returns the first request", async () => {
    const { file, client } = setup();
    const first = client.antiCallLlm(0);
    await Bun.sleep(20);
    appendFileSync(file, request(1));
    expect(JSON.parse(await first).messages[0].content).toBe("turn 1");
  });

  test("index k writes response k and returns request k+1, waking on the file change", async () => {
    const { file, client, text } = setup([request(1)]);
    const next = client.antiCallLlm(1, answer(1));
    await Bun.sleep(20);
    expect(text()).toContain(`LLM_RESPONSE_START${answer(1)}LLM_RESPONSE_END`);
    const began = performance.now();
    appendFileSync(file, request(2));
    expect(JSON.parse(await next).messages[0].content).toBe("turn 2");
    // The poll is set to 1 s here: only the change notification can be this quick.
    expect(performance.now() - began).toBeLessThan(500);
  });

  test("repeating the same index is safe: one response line, the same next request", async () => {
    const { client, text, warnings } = setup([request(1), request(2)]);
    const once = await client.antiCallLlm(1, answer(1));
    const again = await client.antiCallLlm(1, answer(1));
    expect(again).toBe(once);
    expect(text().match(/LLM_RESPONSE_START/g)).toHaveLength(1);
    await client.antiCallLlm(1, '{"different": true}');
    expect(text().match(/LLM_RESPONSE_START/g)).toHaveLength(1);
    expect(warnings.join()).toContain("already answered");
  });

  test("SESSION_END is returned once the session has ended", async () => {
    const { file, client } = setup([request(1)]);
    const next = client.antiCallLlm(1, answer(1));
    appendFileSync(file, sessionEndLine);
    expect(await next).toBe("SESSION_END");
    expect(await client.antiCallLlm(0)).toBe("SESSION_END");
  });

  test("request k+1 is found even when later requests follow it (several calls in flight)", async () => {
    const { client } = setup([request(1), request(2), request(3)]);
    expect(JSON.parse(await client.antiCallLlm(1, answer(1))).messages[0].content).toBe("turn 2");
    expect(JSON.parse(await client.antiCallLlm(2, answer(2))).messages[0].content).toBe("turn 3");
  });
});

describe("bad input fails clearly and writes nothing", () => {
  test("index out of range, not JSON, missing or extra response, behind the last response", async () => {
    const { client, text } = setup([request(1), request(2), request(3)]);
    await client.antiCallLlm(2, answer(2));
    const before = text();
    const failures: [Promise<string>, RegExp][] = [
      [client.antiCallLlm(9, answer(9)), /index 9 is out of range: .* has requests 1\.\.3; nothing was written/],
      [client.antiCallLlm(1, answer(1)), /index 1 is behind the last response written \(index 2\)/],
      [client.antiCallLlm(3, "{not json"), /not JSON .*nothing was written/],
      [client.antiCallLlm(-1), /whole number from 0/],
      [client.antiCallLlm(0, answer(0)), /takes no response/],
      [client.antiCallLlm(3), /needs the response/],
    ];
    for (const [call, message] of failures) {
      const error = await call.catch((e) => e);
      expect(error).toBeInstanceOf(AntiCallError);
      expect(error.message).toMatch(message);
    }
    expect(text()).toBe(before);
  });

  test("malformed lines are skipped with a warning; the records still work", async () => {
    const { client, warnings } = setup(["this is not a record\n", request(1)]);
    expect(JSON.parse(await client.antiCallLlm(0)).messages[0].content).toBe("turn 1");
    expect(warnings.join()).toContain(":1: skipped, not a record");
  });

  test("a timeout says which request did not come", async () => {
    const { client } = setup([request(1)]);
    await expect(client.antiCallLlm(1, answer(1), { timeoutMs: 50 })).rejects.toThrow(/no request 2 in .* within 50 ms/);
  });
});
