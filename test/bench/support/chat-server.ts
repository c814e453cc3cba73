/** `core/cli.ts` of a checkout serving the assistant with the openai plugin pointed at a loopback upstream. */
import { join } from "node:path";
import { freePort, repoRoot, tempProject, waitForHttp } from "../../support/project.ts";

export interface ChatServer {
  process: ReturnType<typeof Bun.spawn>;
  /** The chat completions URL. */
  url: string;
  /** CPU time (user + system) the server process has used so far, in ms (10 ms resolution). */
  cpuMs(): number;
  stop(): Promise<void>;
}

export async function startChatServer(upstreamPort: string, root = repoRoot): Promise<ChatServer> {
  const project = tempProject();
  const port = freePort();
  const config = project.config(
    `log:\n  level: warn\nplugins:\n  openai:\n    api_base: http://127.0.0.1:${upstreamPort}/v1\n    model: bench\n    supports_tools: false\n  assistant:\n    port: ${port}\n    model_server: openai\n`,
  );
  const child = Bun.spawn([process.execPath, join(root, "core/cli.ts")], { env: { ...process.env, ROCK_CONFIG: config }, stdout: "ignore", stderr: "inherit" });
  await waitForHttp(`http://127.0.0.1:${port}/health`);
  return {
    process: child,
    url: `http://127.0.0.1:${port}/v1/chat/completions`,
    cpuMs() {
      const fields = require("node:fs").readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1].split(" ");
      return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in clock ticks of 10 ms
    },
    async stop() {
      child.kill("SIGTERM");
      await child.exited;
      project.remove();
    },
  };
}
