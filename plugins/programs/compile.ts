/**
 * Compiles a Bun program into one self-contained executable (the Bun runtime included), the form our programs take
 * inside sandboxes and containers that have neither Bun nor this repository (rocklet, tool node, model service).
 */
import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(import.meta.dir, "../..");

export interface CompileOptions {
  /** Output path; default `dist/<name>` in the repository. */
  outfile?: string;
  /** A Bun compile target such as `bun-linux-x64-musl` (Alpine images). */
  target?: string;
}

export async function compileProgram(name: string, entrypoint: string, options: CompileOptions = {}, plugins: Bun.BunPlugin[] = []): Promise<string> {
  const outfile = resolve(options.outfile ?? join(REPO_ROOT, "dist", name));
  const result = await Bun.build({
    entrypoints: [entrypoint],
    minify: true,
    plugins,
    compile: {
      outfile,
      ...(options.target ? { target: options.target as Bun.Build.CompileTarget } : {}),
      // A .env or bunfig.toml in the working directory of a sandbox must not reconfigure the program.
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
  });
  if (!result.success) throw new Error(`${name} build failed:\n${result.logs.map((log) => String(log)).join("\n")}`);
  return outfile;
}

/** `--outfile` and `--target` from a build script's arguments. */
export function compileOptionsFromArgs(args: string[]): CompileOptions {
  const valueOf = (flag: string) => {
    const at = args.indexOf(flag);
    return at >= 0 ? args[at + 1] : undefined;
  };
  return { outfile: valueOf("--outfile"), target: valueOf("--target") };
}

export async function reportBuilt(outfile: string) {
  console.log(`built ${outfile} (${(Bun.file(outfile).size / 1024 ** 2).toFixed(1)} MiB)`);
}

/**
 * True when `outfile` is missing or older than a TypeScript file under `dirs` (default: the kernel and plugins/, which
 * hold everything our programs import), i.e. when a build made before a checkout or an edit would run old code.
 */
export function needsBuild(outfile: string, dirs: string[] = [join(REPO_ROOT, "core"), join(REPO_ROOT, "plugins")]): boolean {
  let built: number;
  try {
    built = statSync(outfile).mtimeMs;
  } catch {
    return true;
  }
  const newer = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return newer(path);
      return entry.name.endsWith(".ts") && statSync(path).mtimeMs > built;
    });
  return dirs.some(newer);
}
