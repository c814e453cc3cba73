import { describe, expect, test } from "bun:test";
import { LogParser } from "../../plugins/programs/model-service/log-parser.ts";
import { requestLine, responseLine, sessionEndLine, trajectoryLine } from "../../plugins/programs/model-service/log-records.ts";
import { toPythonJson } from "../../plugins/programs/model-service/python-json.ts";
import { resolveSettings } from "../../plugins/programs/model-service/settings.ts";
import { rockLastRequest, rockResponse } from "./support/rock-reader.ts";

const python = Bun.which("python3");

describe("the byte format", () => {
  test("request, response and session-end lines are ROCK's", () => {
    expect(requestLine('{"model":"m","messages":[]}', 1, 1732200000000)).toBe(
      'LLM_REQUEST_START{"model": "m", "messages": []}LLM_REQUEST_END{"timestamp": 1732200000000, "index": 1}\n',
    );
    expect(responseLine('{"id":"r"}', 1, 1732200000123)).toBe('LLM_RESPONSE_START{"id":"r"}LLM_RESPONSE_END{"timestamp": 1732200000123, "index": 1}\n');
    expect(sessionEndLine).toBe("SESSION_END\n");
  });

  test("JSON is written as Python's json.dumps(ensure_ascii=False) writes it", () => {
    const body = '{"a":1.0,"b":[1,2.5,1e16,1e-5,0.0001,-0],"2":"x","1":"héllo\\n\\t\\"q\\" \\u00e9 \\ud83d\\ude00","c":{},"d":[],"f":true,"g":null,"h":123456789012345678901234567890}';
    const ours = toPythonJson(body);
    expect(ours).toBe('{"a": 1.0, "b": [1, 2.5, 1e+16, 1e-05, 0.0001, 0], "2": "x", "1": "héllo\\n\\t\\"q\\" é 😀", "c": {}, "d": [], "f": true, "g": null, "h": 123456789012345678901234567890}');
    if (python) {
      const script = "import json,sys; print(json.dumps(json.loads(sys.stdin.read()), ensure_ascii=False), end='')";
      const result = Bun.spawnSync([python, "-c", script], { stdin: Buffer.from(body), env: { PYTHONIOENCODING: "utf-8" } });
      expect(result.stdout.toString()).toBe(ours);
    }
  });

  test("marker words inside strings are escaped so ROCK's substring tests are not fooled", () => {
    const line = requestLine('{"content":"say SESSION_END or LLM_REQUEST_END"}', 4, 1);
    expect(line).not.toContain('"say SESSION_END');
    expect(JSON.parse(rockLastRequest(line).json)).toEqual({ content: "say SESSION_END or LLM_REQUEST_END" });
    expect(rockLastRequest(line).index).toBe(4);
  });

  test("a trajectory line is ROCK's json.dumps({request, response}): Python's bytes, marker words left as they are", () => {
    const request = '{"model":"m","temperature":1.0,"messages":[{"role":"user","content":"say SESSION_END é"}]}';
    const response = '{\n "id": "r",\n "choices": [{"message": {"content": "ok"}}],\n "usage": {"total_tokens": 3}\n}';
    const line = trajectoryLine(request, response);
    expect(line).toBe(
      '{"request": {"model": "m", "temperature": 1.0, "messages": [{"role": "user", "content": "say SESSION_END é"}]}, "response": {"id": "r", "choices": [{"message": {"content": "ok"}}], "usage": {"total_tokens": 3}}}\n',
    );
    if (python) {
      const script = "import json,sys; r,s=sys.stdin.read().split('\\0'); print(json.dumps({'request': json.loads(r), 'response': json.loads(s)}, ensure_ascii=False))";
      const result = Bun.spawnSync([python, "-c", script], { stdin: Buffer.from(`${request}\0${response}`), env: { PYTHONIOENCODING: "utf-8" } });
      expect(result.stdout.toString()).toBe(line);
    }
  });

  test("the trajectory sits beside the log (TRAJ_FILE moves it); only ROCK_MODEL_SERVICE_TRAJ_APPEND_MODE=true appends", () => {
    const settings = (env: Record<string, string>) => resolveSettings({ "log-file": "/srv/logs/LLMService.log" }, env);
    expect(settings({})).toMatchObject({ trajFile: "/srv/logs/LLMTraj.jsonl", trajAppend: false });
    expect(settings({ ROCK_MODEL_SERVICE_DATA_DIR: "/data/x" }).trajFile).toBe("/srv/logs/LLMTraj.jsonl");
    expect(resolveSettings({}, { ROCK_MODEL_SERVICE_DATA_DIR: "/data/x" }).trajFile).toBe("/data/x/LLMTraj.jsonl");
    expect(settings({ TRAJ_FILE: "/tmp/t.jsonl" }).trajFile).toBe("/tmp/t.jsonl");
    // As ROCK reads it: `.lower() == "true"`.
    expect([settings({ ROCK_MODEL_SERVICE_TRAJ_APPEND_MODE: "TRUE" }), settings({ ROCK_MODEL_SERVICE_TRAJ_APPEND_MODE: "1" })].map((s) => s.trajAppend)).toEqual([true, false]);
  });

  test("a response that spans lines is written on one line, same JSON value", () => {
    const pretty = '{\n  "choices": [\n    {"message": {"content": "a\\nb"}}\n  ]\n}\n';
    const line = responseLine(pretty, 2, 5);
    expect(line.split("\n")).toHaveLength(2);
    expect(JSON.parse(rockResponse(line, 2)!)).toEqual(JSON.parse(pretty));
  });

  test("a response that is not JSON is refused", () => {
    expect(() => responseLine("not json", 1)).toThrow();
  });
});

describe("reading logs", () => {
  /** A session as ROCK's own service and client write it. */
  const rockLog =
    'LLM_REQUEST_START{"model": "gpt", "messages": [{"role": "user", "content": "你好"}]}LLM_REQUEST_END{"timestamp": 1732200000000, "index": 1}\n' +
    'LLM_RESPONSE_START{"choices": [{"message": {"role": "assistant", "content": "hi"}}]}LLM_RESPONSE_END{"timestamp": 1732200000500, "index": 1}\n' +
    'LLM_REQUEST_START{"model": "gpt", "messages": []}LLM_REQUEST_END{"timestamp": 1732200001000, "index": 2}\n' +
    "SESSION_END\n";

  test("a log in ROCK's format is parsed into its records", () => {
    const records = new LogParser().feed(rockLog);
    expect(records.map((r) => r.kind)).toEqual(["request", "response", "request", "session-end"]);
    expect(records[0]).toMatchObject({ kind: "request", index: 1, timestamp: 1732200000000, line: 1 });
    expect(JSON.parse((records[0] as { json: string }).json).messages[0].content).toBe("你好");
    expect(records[1]).toMatchObject({ kind: "response", index: 1, json: '{"choices": [{"message": {"role": "assistant", "content": "hi"}}]}' });
  });

  test("our lines are read back by ROCK's rules", () => {
    const ours = requestLine('{"model":"m","messages":[{"role":"user","content":"x"}]}', 1) + responseLine('{"id":"r1"}', 1) + requestLine('{"model":"m"}', 2);
    expect(rockLastRequest(ours)).toEqual({ json: '{"model": "m"}', index: 2 });
    expect(rockResponse(ours, 1)).toBe('{"id":"r1"}');
    expect(rockLastRequest(ours + sessionEndLine).json).toBe("SESSION_END");
  });

  test("records split anywhere across reads come out whole, never half", () => {
    const parser = new LogParser();
    const seen = [];
    for (const char of rockLog) seen.push(...parser.feed(char));
    expect(seen.map((r) => r.kind)).toEqual(["request", "response", "request", "session-end"]);
    expect(new LogParser().feed(rockLog.slice(0, 40))).toEqual([]);
  });

  test("a response another tool wrote over several lines is one record", () => {
    const text = 'LLM_RESPONSE_START{\n  "id": "multi",\n  "choices": []\n}LLM_RESPONSE_END{"timestamp": 1, "index": 3}\n';
    const [record] = new LogParser().feed(text);
    expect(record).toMatchObject({ kind: "response", index: 3, line: 1 });
    expect(JSON.parse((record as { json: string }).json)).toEqual({ id: "multi", choices: [] });
  });

  test("malformed lines are reported and skipped; the records around them still count", () => {
    const text =
      "garbage line\n" +
      'LLM_REQUEST_START{"a": 1}LLM_REQUEST_END{not json}\n' +
      'LLM_RESPONSE_START{"never": "closed"\n' +
      'LLM_REQUEST_START{"b": 2}LLM_REQUEST_END{"timestamp": 1, "index": 7}\n';
    const records = new LogParser().feed(text);
    expect(records.map((r) => r.kind)).toEqual(["malformed", "malformed", "malformed", "request"]);
    expect(records.slice(0, 3).map((r) => r.line)).toEqual([1, 2, 3]);
    expect(records[3]).toMatchObject({ index: 7, json: '{"b": 2}' });
  });
});
