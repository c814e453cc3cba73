/** `tsc --noEmit -p .` over core, plugins, workers and test, type-cases.ts included: any error fails the suite. */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { repoRoot } from "../support/project.ts";

test("tsc --noEmit -p . reports no error (type-cases.ts: every @ts-expect-error meets one)", async () => {
  const tsc = Bun.spawn([join(repoRoot, "node_modules", ".bin", "tsc"), "--noEmit", "-p", "."], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(tsc.stdout).text(), new Response(tsc.stderr).text(), tsc.exited]);
  expect(`${out}${err}`.trim()).toBe("");
  expect(code).toBe(0);
}, 300_000);
