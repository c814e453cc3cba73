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
