#!/usr/bin/env bun
/**
 * Compiles the model service into one self-contained executable (Bun runtime included), the form it takes inside
 * sandboxes that have neither Bun nor this repository:
 *   bun plugins/lib/model-service/build.ts [--outfile dist/model-service] [--target bun-linux-x64-musl]
 */
import { join, resolve } from "node:path";

const REPO_ROOT = resolve(import.meta.dir, "../../..");

export async function buildModelService(options: { outfile?: string; target?: string } = {}): Promise<string> {
  const outfile = resolve(options.outfile ?? join(REPO_ROOT, "dist", "model-service"));
  const result = await Bun.build({
    entrypoints: [join(import.meta.dir, "main.ts")],
    minify: true,
    compile: {
      outfile,
      ...(options.target ? { target: options.target as Bun.Build.CompileTarget } : {}),
      // A .env or bunfig.toml in the sandbox's working directory must not reconfigure the service.
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
  });
  if (!result.success) throw new Error(`model-service build failed:\n${result.logs.map(String).join("\n")}`);
  return outfile;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const valueOf = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
  const outfile = await buildModelService({ outfile: valueOf("--outfile"), target: valueOf("--target") });
  console.log(`built ${outfile} (${(Bun.file(outfile).size / 1024 ** 2).toFixed(1)} MiB)`);
}
