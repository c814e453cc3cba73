import { existsSync, realpathSync } from "node:fs";
import * as fsp from "node:fs/promises";
import { basename, dirname, isAbsolute, join, resolve, sep } from "node:path";
import { PermissionDenied } from "../errors.ts";

/**
 * Resolves symlinks of the longest existing prefix, so that a link inside an allowed directory
 * cannot lead outside it, and paths that do not exist yet still resolve.
 */
export function realish(path: string): string {
  let head = path;
  const tail: string[] = [];
  while (!existsSync(head)) {
    const parent = dirname(head);
    if (parent === head) break;
    tail.unshift(basename(head));
    head = parent;
  }
  const real = existsSync(head) ? realpathSync(head) : head;
  return tail.length ? join(real, ...tail) : real;
}

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

export interface ScopedFs {
  /** The absolute, symlink-resolved path, after checking the permission. */
  check(path: string, mode: "read" | "write"): string;
  readText(path: string): Promise<string>;
  readBytes(path: string): Promise<Uint8Array>;
  writeText(path: string, text: string): Promise<void>;
  writeBytes(path: string, data: Uint8Array): Promise<void>;
  append(path: string, text: string): Promise<void>;
  mkdir(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  exists(path: string): Promise<boolean>;
  stat(path: string): Promise<import("node:fs").Stats>;
  remove(path: string): Promise<void>;
}

export function scopedFs(plugin: string, root: string, grants: { read: readonly string[]; write: readonly string[] }): ScopedFs {
  const absolute = (p: string) => realish(isAbsolute(p) ? p : resolve(root, p));
  const writable = grants.write.map(absolute);
  const readable = [...grants.read.map(absolute), ...writable];

  const check = (path: string, mode: "read" | "write") => {
    const target = absolute(path);
    const dirs = mode === "read" ? readable : writable;
    if (!dirs.some((d) => within(target, d))) {
      throw new PermissionDenied(plugin, `${mode}:${target}`, `declare a directory containing it in permissions.${mode}`);
    }
    return target;
  };

  return {
    check,
    readText: (p) => Bun.file(check(p, "read")).text(),
    readBytes: async (p) => new Uint8Array(await Bun.file(check(p, "read")).arrayBuffer()),
    writeText: async (p, text) => {
      const target = check(p, "write");
      await fsp.mkdir(dirname(target), { recursive: true });
      await Bun.write(target, text);
    },
    writeBytes: async (p, data) => {
      const target = check(p, "write");
      await fsp.mkdir(dirname(target), { recursive: true });
      await Bun.write(target, data);
    },
    append: async (p, text) => {
      const target = check(p, "write");
      await fsp.mkdir(dirname(target), { recursive: true });
      await fsp.appendFile(target, text);
    },
    mkdir: async (p) => void (await fsp.mkdir(check(p, "write"), { recursive: true })),
    readdir: (p) => fsp.readdir(check(p, "read")),
    exists: async (p) => existsSync(check(p, "read")),
    stat: (p) => fsp.stat(check(p, "read")),
    remove: (p) => fsp.rm(check(p, "write"), { recursive: true, force: true }),
  };
}
