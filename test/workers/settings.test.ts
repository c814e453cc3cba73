import { expect, test } from "bun:test";
import { readSettings, SettingsError } from "../../workers/runtime/settings.ts";

test("AGENT_ENDPOINT: the original's form, a missing trailing slash, and a bare origin all reach the Agent's /v1.0/", () => {
  expect(readSettings({}).agentEndpoint).toBe("http://localhost:9000/v1.0/");
  expect(readSettings({ AGENT_ENDPOINT: "http://agent:9000/v1.0/" }).agentEndpoint).toBe("http://agent:9000/v1.0/");
  expect(readSettings({ AGENT_ENDPOINT: "http://agent:9000/v1.0" }).agentEndpoint).toBe("http://agent:9000/v1.0/");
  expect(readSettings({ AGENT_ENDPOINT: "http://agent:9000" }).agentEndpoint).toBe("http://agent:9000/v1.0/");
  expect(readSettings({ AGENT_ENDPOINT: "http://agent:9000/" }).agentEndpoint).toBe("http://agent:9000/v1.0/");
  expect(readSettings({ AGENT_ENDPOINT: "http://gw/kuwa/v1.0/" }).agentEndpoint).toBe("http://gw/kuwa/v1.0/");
});

test("booleans parse as words; a bad value names the variable", () => {
  expect(readSettings({ IGNORE_AGENT: "false" }).ignoreAgent).toBe(false);
  expect(readSettings({ IGNORE_AGENT: "True" }).ignoreAgent).toBe(true);
  expect(() => readSettings({ IGNORE_AGENT: "maybe" })).toThrow(SettingsError);
  expect(() => readSettings({ AGENT_ENDPOINT: "ftp://x" })).toThrow("AGENT_ENDPOINT");
});

test("tokens: AGENT_TOKEN is sent to the Agent; the worker's own token is WORKER_TOKEN, else random once the Agent has one", () => {
  expect(readSettings({})).toMatchObject({ agentToken: undefined, workerToken: undefined });
  expect(readSettings({ AGENT_TOKEN: " a-token\n", WORKER_TOKEN: "w-token" })).toMatchObject({ agentToken: "a-token", workerToken: "w-token" });
  const generated = [readSettings({ AGENT_TOKEN: "a-token" }).workerToken, readSettings({ AGENT_TOKEN: "a-token" }).workerToken];
  expect(generated[0]).toMatch(/^[\w-]{32}$/);
  expect(generated[0]).not.toBe(generated[1]);
});
