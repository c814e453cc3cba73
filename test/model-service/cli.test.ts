import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { serviceDir } from "./support/service.ts";

const service = serviceDir();
afterAll(() => service.remove());

describe("the command line", () => {
  test("usage errors exit 2 and say what is wrong", async () => {
    const cases: [string[], Record<string, string>, string][] = [
      [["launch"], {}, "unknown command 'launch'"],
      [["start", "--type", "remote"], {}, "--type: expected local or proxy"],
      [["start", "--bogus", "1"], {}, "unknown option --bogus"],
      [["start"], { SERVICE_PORT: "eighty" }, "environment variable SERVICE_PORT: expected an integer from 0 to 65535"],
      [["start"], { POLLING_INTERVAL_SECONDS: "-1" }, "POLLING_INTERVAL_SECONDS: expected a positive number of seconds"],
      [["anti-call-llm"], {}, "--index N is required"],
      [["anti-call-llm", "--index", "1", "--response", "{}", "--response-file", "x"], {}, "not both"],
      [["watch-agent"], {}, "--pid PID is required"],
    ];
    for (const [args, env, message] of cases) {
      const result = await service.cli(args, env);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toContain(message);
    }
  });

  test("config files are checked field by field", async () => {
    const config = join(service.dir, "bad.yml");
    writeFileSync(config, "port: 8080\nproxy_rulez: {}\n");
    const unknown = await service.cli(["start", "--config-file", config]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown field proxy_rulez");
    writeFileSync(config, "proxy_rules:\n  default: ftp://nowhere\n");
    expect((await service.cli(["start", "--type", "proxy", "--config-file", config])).stderr).toContain("proxy_rules.default: expected an http(s) URL");
  });

  test("watch-agent explains when no service answers", async () => {
    const result = await service.cli(["watch-agent", "--pid", String(process.pid)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("the model service is not answering");
  });

  test("`bun run rock model-service` runs the same commands", async () => {
    const rock = Bun.spawn([process.execPath, join(import.meta.dir, "../../core/cli.ts"), "model-service", "stop"], { env: service.env, stdout: "pipe", stderr: "pipe" });
    expect(await new Response(rock.stdout).text()).toContain("model service is not running");
    expect(await rock.exited).toBe(0);
  });

  test("proxy mode starts and stops through the CLI too", async () => {
    const upstream = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ choices: [{ message: { content: "up" } }] }) });
    try {
      const started = await service.cli(["start", "--type", "proxy", "--proxy-base-url", `http://127.0.0.1:${upstream.port}/v1`]);
      expect(started.code).toBe(0);
      const response = await fetch(`${service.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: "m", messages: [] }) });
      expect((await response.json()).choices[0].message.content).toBe("up");
      expect((await service.cli(["stop"])).stdout).toContain("model service stopped");
    } finally {
      upstream.stop(true);
    }
  });
});
