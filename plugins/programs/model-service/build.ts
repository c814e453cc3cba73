#!/usr/bin/env bun
/**
 * Compiles the model service into one self-contained executable, the form it takes inside sandboxes:
 *   bun plugins/programs/model-service/build.ts [--outfile dist/model-service] [--target bun-linux-x64-musl]
 */
import { join } from "node:path";
import { compileOptionsFromArgs, compileProgram, reportBuilt, type CompileOptions } from "../compile.ts";

export function buildModelService(options: CompileOptions = {}): Promise<string> {
  return compileProgram("model-service", join(import.meta.dir, "main.ts"), options);
}

if (import.meta.main) await reportBuilt(await buildModelService(compileOptionsFromArgs(process.argv.slice(2))));
