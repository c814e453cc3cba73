export type Runner = "auto" | "binary" | "source";

/** Flags for every Bun this deployment starts: a sandbox's work dir must not configure it, nothing is installed. */
export const BUN_FLAGS = ["--no-install", "--no-env-file"];

export interface RockletLaunch {
  runner: "binary" | "source";
  command: string[];
}

/**
 * How to run the rocklet: the compiled binary when there is one (it starts faster), else its TypeScript entry with
 * the Bun running the kernel, so that a fresh checkout works without a build step.
 */
export function rockletLaunch(runner: Runner, paths: { binary: string; binaryExists: boolean; source: string }, port: number): RockletLaunch {
  const flags = ["--host", "127.0.0.1", "--port", String(port)];
  const useBinary = runner === "binary" || (runner === "auto" && paths.binaryExists);
  if (useBinary) return { runner: "binary", command: [paths.binary, ...flags] };
  return { runner: "source", command: [process.execPath, ...BUN_FLAGS, paths.source, ...flags] };
}
