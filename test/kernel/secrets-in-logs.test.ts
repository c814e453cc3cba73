/**
 * Secrets never reach the output of a real `rock` process: a plugin that declares `X_API_KEY`/`X_TOKEN` and has
 * config fields marked `secret` logs them in messages and fields, throws them from a route and from its start hook,
 * and gets them refused by config validation. Whatever the process prints, in text or JSON, carries none of them.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { repoRoot, tempProject } from "../support/project.ts";

const project = tempProject("rock-secrets-");
afterAll(() => project.remove());

const random = () => crypto.randomUUID().slice(0, 8);
const secrets = {
  X_API_KEY: `xkey-${random()}`,
  X_TOKEN: `xtok-${random()}`,
  // Quotes and a backslash: escaped in JSON and in quoted text fields, where a plain search would miss them.
  password: `pw-"quoted\\${random()}`,
  nested: `nested-${random()}`,
  server: `server-token-${random()}`,
};

project.plugin(
  "drop-in",
  "leaky",
  `{
  name: "leaky",
  kind: "service",
  version: "1.0.0",
  config: Type.Object({
    password: Type.String({ secret: true, pattern: "^pw-" }),
    upstream: Type.Object({ api_secret: Type.String({ secret: true }) }),
    fail: Type.String({ default: "" }),
  }),
  permissions: { env: ["X_API_KEY", "X_TOKEN"] },
  setup(ctx) {
    const values = [ctx.env.get("X_API_KEY"), ctx.env.get("X_TOKEN"), ctx.config.password, ctx.config.upstream.api_secret];
    const all = values.join(" ");
    ctx.log.info("setup sees " + all, { key: values[0], token: values[1], password: values[2], nested: values[3], list: values, error: new Error(all), quoted: '"' + all + '"' });
    return {
      start() {
        if (ctx.config.fail === "start") throw new Error("cannot log in with " + all);
        if (ctx.config.fail === "crash") setTimeout(() => { throw new Error("background failure with " + all); }, 500);
      },
      http: {
        mount: (app) =>
          app
            .get("/hello", () => { ctx.log.warn("request sees " + all, { values }); return "ok"; })
            .get("/boom", () => { throw new Error("upstream refused " + all); }),
      },
    };
  },
}`,
);

function configFile(name: string, fields: { password?: string; fail?: string }) {
  const password = fields.password ?? secrets.password;
  return project.write(
    `conf/${name}.yml`,
    `plugin_dirs: [${JSON.stringify(join(project.root, "drop-in"))}]\n` +
      `server:\n  token: ${secrets.server}\n` +
      `plugins:\n  leaky:\n    port: 0\n    password: '${password}'\n    upstream: { api_secret: ${secrets.nested} }\n    fail: '${fields.fail ?? ""}'\n`,
  );
}

interface Run {
  code: number | null;
  output: string;
}

/** Runs `bun run rock` on `config`; when it serves, calls its routes and (unless `stop` is false) stops it with SIGTERM. */
async function runRock(config: string, format: "text" | "json", extraEnv: Record<string, string> = {}, stop = true): Promise<Run> {
  const child = Bun.spawn([process.execPath, join(repoRoot, "core", "cli.ts"), "--config", config], {
    cwd: project.root,
    env: { PATH: process.env.PATH!, HOME: project.root, ROCK_DATA_DIR: join(project.root, "data"), ROCK_LOG_FORMAT: format, ROCK_LOG_LEVEL: "debug", X_API_KEY: secrets.X_API_KEY, X_TOKEN: secrets.X_TOKEN, ...extraEnv },
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.getReader();
  let stdout = "";
  const deadline = Date.now() + 20_000;
  // The CLI prints `leaky  http://127.0.0.1:PORT` once it listens, or exits.
  while (!/leaky\s+(http:\S+)/.test(stdout) && Date.now() < deadline) {
    const { done, value } = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => ({ done: true, value: undefined }))]);
    if (done) break;
    stdout += new TextDecoder().decode(value);
  }
  const url = /leaky\s+(http:\S+)/.exec(stdout)?.[1];
  if (url) {
    const auth = { headers: { authorization: `Bearer ${secrets.server}` } };
    expect((await fetch(`${url}/hello`, auth)).status).toBe(200);
    const boom = await fetch(`${url}/boom`, auth);
    expect(boom.status).toBe(500);
    expect(await boom.text()).not.toContain(secrets.X_API_KEY);
    await Bun.sleep(100);
    if (stop) child.kill("SIGTERM");
  }
  const code = await Promise.race([child.exited, Bun.sleep(20_000).then(() => (child.kill("SIGKILL"), null))]);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    stdout += new TextDecoder().decode(value);
  }
  return { code, output: stdout + (await stderr) };
}

function expectNoSecret(run: Run) {
  for (const value of Object.values(secrets)) {
    expect(run.output).not.toContain(value);
    expect(run.output).not.toContain(JSON.stringify(value).slice(1, -1));
  }
}

describe("no secret in the output of a real rock process", () => {
  for (const format of ["text", "json"] as const) {
    test(`serving, ${format} logs: plugin log lines, fields, errors and the HTTP server's error log are masked`, async () => {
      const run = await runRock(configFile(`serve-${format}`, {}), format);
      expect(run.code).toBe(0);
      expect(run.output).toContain("setup sees");
      expect(run.output).toContain("request sees");
      expect(run.output).toContain("upstream refused");
      expect(run.output).toContain("***");
      expectNoSecret(run);
    }, 60_000);
  }

  test("a plugin whose start fails: the CLI's error message is masked (with ROCK_DEBUG too)", async () => {
    for (const debug of ["", "1"]) {
      const run = await runRock(configFile("fail-start", { fail: "start" }), "text", { ROCK_DEBUG: debug });
      expect(run.code).toBe(2);
      expect(run.output).toContain("cannot log in with");
      expectNoSecret(run);
    }
  }, 60_000);

  test("an exception thrown outside any request is logged masked and stops the process", async () => {
    const run = await runRock(configFile("crash", { fail: "crash" }), "json", {}, false);
    expect(run.code).not.toBe(0);
    expect(run.output).toContain("background failure with");
    expectNoSecret(run);
  }, 60_000);

  test("a secret field that fails validation is named, its value is not shown", async () => {
    const bad = `not-a-pw-${random()}`;
    const run = await runRock(configFile("bad-secret", { password: bad }), "text");
    expect(run.code).toBe(2);
    expect(run.output).toContain("plugins.leaky.password");
    expect(run.output).not.toContain(bad);
    expectNoSecret(run);
  }, 60_000);
});
