import { expect, test } from "bun:test";
import { join } from "node:path";
import { repoRoot, tempProject, waitForHttp } from "../support/project.ts";

test("`bun run rock` on the repository's defaults answers /health on every default port with no Redis or Docker", async () => {
  const project = tempProject();
  const env: Record<string, string | undefined> = { ...process.env, ROCK_DATA_DIR: join(project.root, "data"), ROCK_DOCKER_SOCKET: join(project.root, "no-docker.sock") };
  for (const name of ["ROCK_CONFIG", "ROCK_REDIS_URL", "DOCKER_HOST", "MODEL_SERVER"]) delete env[name];
  const child = Bun.spawn([process.execPath, "run", "rock"], { cwd: repoRoot, env, stdout: "pipe", stderr: "pipe" });
  try {
    const ports = { admin: 8080, envhub: 8081, assistant: 31512, "tool-manager": 31511, agent: 9000 };
    for (const [service, port] of Object.entries(ports)) {
      const res = await waitForHttp(`http://127.0.0.1:${port}/health`);
      // ROCK's envhub answers exactly {"status":"ok"}; the others name themselves.
      expect(await res.json()).toEqual(service === "envhub" ? { status: "ok" } : { status: "ok", service });
    }
    const chat = await fetch("http://127.0.0.1:31512/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "hello" }] }),
    });
    expect((await chat.json()).choices[0].message.content).toBe("hello");
    child.kill("SIGTERM");
    expect(await child.exited).toBe(0);
  } finally {
    child.kill("SIGKILL");
    project.remove();
  }
});
