/**
 * Throwaway project roots for kernel tests: a temp dir with conf/rock.yml and plugin folders written from source text.
 * Plugins import the real kernel through an absolute path, exactly like a drop-in plugin would.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

export const repoRoot = resolve(import.meta.dir, "..", "..");
export const corePlugin = join(repoRoot, "core", "plugin.ts");

export interface TempProject {
  root: string;
  write(path: string, text: string): string;
  config(yaml: string): string;
  /** A plugin folder `<dir>/<name>/plugin.ts` whose body is `definePlugin({...})` source. */
  plugin(dir: string, name: string, definition: string, extraImports?: string): string;
  remove(): void;
}

export function tempProject(prefix = "rock-test-"): TempProject {
  // Inside the repo so that plugins resolve packages from its node_modules, as a real drop-in folder would.
  const base = join(repoRoot, "test", ".tmp", "projects");
  mkdirSync(base, { recursive: true });
  const root = mkdtempSync(join(base, prefix));
  const write = (path: string, text: string) => {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, text);
    return full;
  };
  return {
    root,
    write,
    config: (yaml) => write("conf/rock.yml", yaml),
    plugin: (dir, name, definition, extraImports = "") =>
      write(join(dir, name, "plugin.ts"), `import { definePlugin } from ${JSON.stringify(corePlugin)};\nimport { Type } from "@sinclair/typebox";\n${extraImports}\nexport default definePlugin(${definition});\n`),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** A TCP port nobody listens on right now. */
export function freePort(): number {
  const server = Bun.serve({ port: 0, fetch: () => new Response() });
  const port = server.port!;
  server.stop(true);
  return port;
}

/** Polls `url` until it answers (any status) or `ms` pass. */
export async function waitForHttp(url: string, ms = 15000): Promise<Response> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await fetch(url);
    } catch (error) {
      last = error;
      await Bun.sleep(50);
    }
  }
  throw new Error(`${url} did not answer within ${ms} ms: ${last}`);
}
