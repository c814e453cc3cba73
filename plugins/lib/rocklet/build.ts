#!/usr/bin/env bun
/**
 * Compiles the rocklet into one self-contained executable (the Bun runtime included):
 *   bun plugins/lib/rocklet/build.ts [--outfile dist/rocklet] [--target bun-linux-x64-musl]
 * Sandbox images built on Alpine need a musl target; cross targets are downloaded by Bun on first use.
 */
import { join, resolve } from "node:path";

const REPO_ROOT = resolve(import.meta.dir, "../../..");

export interface BuildOptions {
  outfile?: string;
  target?: string;
}

export async function buildRocklet(options: BuildOptions = {}): Promise<string> {
  const outfile = resolve(options.outfile ?? join(REPO_ROOT, "dist", "rocklet"));
  const result = await Bun.build({
    entrypoints: [join(import.meta.dir, "main.ts")],
    minify: true,
    compile: {
      outfile,
      ...(options.target ? { target: options.target as Bun.Build.CompileTarget } : {}),
      // A .env or bunfig.toml in the sandbox's working directory must not reconfigure the agent.
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
  });
  if (!result.success) {
    throw new Error(`rocklet build failed:\n${result.logs.map((log) => String(log)).join("\n")}`);
  }
  return outfile;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const valueOf = (flag: string) => {
    const at = args.indexOf(flag);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const outfile = await buildRocklet({ outfile: valueOf("--outfile"), target: valueOf("--target") });
  console.log(`built ${outfile} (${((await Bun.file(outfile).size) / 1024 ** 2).toFixed(1)} MiB)`);
}
