/** Runs the model service CLI as separate processes, as a trainer and a sandbox would, in a throwaway directory. */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { freePort } from "../../support/project.ts";

export const repoRoot = resolve(import.meta.dir, "../../..");
export const serviceMain = join(repoRoot, "plugins/programs/model-service/main.ts");
export const agentScript = join(import.meta.dir, "agent.ts");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ServiceDir {
  dir: string;
  logFile: string;
  port: number;
  url: string;
  env: Record<string, string>;
  cli(args: string[], extraEnv?: Record<string, string>): Promise<CliResult>;
  log(): Promise<string>;
  remove(): Promise<void>;
}

export function serviceDir(env: Record<string, string> = {}): ServiceDir {
  const base = join(repoRoot, "test", ".tmp", "model-service");
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, "run-"));
  const port = freePort();
  const logFile = join(dir, "LLMService.log");
  const fullEnv = { ...(process.env as Record<string, string>), LOG_FILE: logFile, SERVICE_PORT: String(port), SERVICE_HOST: "127.0.0.1", ...env };
  const cli = async (args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> => {
    const child = Bun.spawn([process.execPath, serviceMain, ...args], { env: { ...fullEnv, ...extraEnv }, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    return { code, stdout, stderr };
  };
  return {
    dir,
    logFile,
    port,
    url: `http://127.0.0.1:${port}`,
    env: fullEnv,
    cli,
    log: () => Bun.file(logFile).text(),
    async remove() {
      await cli(["stop"]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
