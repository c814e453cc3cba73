import { afterEach, expect, test } from "bun:test";
import { configureLogging, createLogger, registerSecret } from "../../core/log.ts";

const lines: string[] = [];
afterEach(() => {
  lines.length = 0;
  configureLogging({ format: "text", write: (line) => void process.stderr.write(line + "\n") });
});

test("registered secrets never appear in a log line, in text or JSON format", () => {
  registerSecret("sk-very-secret-value");
  const log = createLogger({ plugin: "openai" });
  configureLogging({ format: "text", write: (l) => lines.push(l) });
  log.warn("upstream refused key sk-very-secret-value", { header: "Bearer sk-very-secret-value" });
  configureLogging({ format: "json", write: (l) => lines.push(l) });
  log.error("again", { error: new Error("bad key sk-very-secret-value") });
  expect(lines).toHaveLength(2);
  for (const line of lines) {
    expect(line).not.toContain("sk-very-secret-value");
    expect(line).toContain("***");
  }
  expect(JSON.parse(lines[1])).toMatchObject({ level: "error", msg: "again", plugin: "openai" });
});

test("levels below the configured one are dropped", () => {
  configureLogging({ level: "warn", write: (l) => lines.push(l) });
  const log = createLogger();
  log.info("quiet");
  log.warn("loud");
  configureLogging({ level: "info" });
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain("WARN");
});
