#!/usr/bin/env bun
/**
 * Compiles the rocklet into one self-contained executable:
 *   bun plugins/programs/rocklet/build.ts [--outfile dist/rocklet] [--target bun-linux-x64-musl]
 * Sandbox images built on Alpine need a musl target; cross targets are downloaded by Bun on first use.
 */
import { join } from "node:path";
import { compileOptionsFromArgs, compileProgram, reportBuilt, type CompileOptions } from "../compile.ts";

export type BuildOptions = CompileOptions;

export function buildRocklet(options: BuildOptions = {}): Promise<string> {
  return compileProgram("rocklet", join(import.meta.dir, "main.ts"), options);
}

if (import.meta.main) await reportBuilt(await buildRocklet(compileOptionsFromArgs(process.argv.slice(2))));
