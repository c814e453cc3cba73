import { join } from "node:path";
import { repoRoot, waitForHttp } from "../../support/project.ts";

/**
 * `bun core/cli.ts` with `config` in a process of its own, so that a benchmark's load generator never shares the
 * server's event loop; resolves once `healthUrl` answers.
 */
export async function startRockProcess(config: string, healthUrl: string, dataDir?: string) {
  const env: Record<string, string | undefined> = { ...process.env, ROCK_CONFIG: config };
  if (dataDir) env.ROCK_DATA_DIR = dataDir;
  const child = Bun.spawn([process.execPath, join(repoRoot, "core/cli.ts")], { env, stdout: "ignore", stderr: "inherit" });
  await waitForHttp(healthUrl);
  return child;
}
