import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { existsSync, readFileSync, type Stats } from "node:fs";
import { lstat, mkdir, readdir, readlink, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import {
  type EntryInfo,
  EntryInfoSchema,
  type Filesystem,
  FileType,
} from "../../../protocol/envd/filesystem/filesystem_pb.ts";
import { chownTo, userFromBasic } from "./user.ts";

export interface FilesystemOptions {
  /** Relative paths are resolved against it (envd: the user's home). */
  home: string;
}

/** envd's filesystem service over the sandbox's own files. */
export function filesystemService(options: FilesystemOptions): Partial<ServiceImpl<typeof Filesystem>> {
  // Relative paths are under the home of the user the call acts as (the SDK's `user`).
  const at = (path: string, context: HandlerContext) => resolvePath(path, userFromBasic(context.requestHeader.get("authorization"))?.home ?? options.home);
  return {
    stat: async (request, context) => ({ entry: await entryInfo(at(request.path, context)) }),
    makeDir: async (request, context) => {
      const user = userFromBasic(context.requestHeader.get("authorization"));
      const path = at(request.path, context);
      const existing = await lstat(path).catch(() => null);
      if (existing) {
        const what = existing.isDirectory() ? "directory" : "file";
        throw new ConnectError(`${what} '${path}' already exists`, Code.AlreadyExists);
      }
      const created = missingDirectories(path);
      await mkdir(path, { recursive: true }).catch((error) => {
        throw fsError(error, path);
      });
      await chownTo(user, created);
      return { entry: await entryInfo(path) };
    },
    move: async (request, context) => {
      const source = at(request.source, context);
      const destination = at(request.destination, context);
      await lstat(source).catch((error) => {
        throw fsError(error, source);
      });
      await mkdir(resolve(destination, ".."), { recursive: true }).catch(() => undefined);
      await rename(source, destination).catch((error) => {
        throw fsError(error, destination);
      });
      return { entry: await entryInfo(destination) };
    },
    listDir: async (request, context) => {
      const path = at(request.path, context);
      const info = await stat(path).catch((error) => {
        throw fsError(error, path);
      });
      if (!info.isDirectory()) throw new ConnectError(`path '${path}' is not a directory`, Code.InvalidArgument);
      const entries: EntryInfo[] = [];
      await walk(path, Math.max(1, request.depth), entries);
      return { entries };
    },
    remove: async (request, context) => {
      const path = at(request.path, context);
      await lstat(path).catch((error) => {
        throw fsError(error, path);
      });
      await rm(path, { recursive: true, force: true }).catch((error) => {
        throw fsError(error, path);
      });
      return {};
    },
  };
}

/** The directories a recursive mkdir of `path` would create, outermost first. */
export function missingDirectories(path: string): string[] {
  const missing: string[] = [];
  for (let dir = path; !existsSync(dir); dir = dirname(dir)) {
    missing.unshift(dir);
    if (dir === dirname(dir)) break;
  }
  return missing;
}

export function resolvePath(path: string, home: string): string {
  if (path === "") throw new ConnectError("path: required", Code.InvalidArgument);
  if (path.includes("\0")) throw new ConnectError("path: contains a NUL byte", Code.InvalidArgument);
  if (path === "~" || path.startsWith("~/")) return resolve(home, path.slice(2));
  return isAbsolute(path) ? resolve(path) : resolve(home, path);
}

async function walk(dir: string, depth: number, into: EntryInfo[]): Promise<void> {
  const names = await readdir(dir).catch((error) => {
    throw fsError(error, dir);
  });
  for (const name of names.sort()) {
    const path = join(dir, name);
    const entry = await entryInfo(path).catch(() => null); // removed meanwhile
    if (!entry) continue;
    into.push(entry);
    if (depth > 1 && entry.type === FileType.DIRECTORY) await walk(path, depth - 1, into);
  }
}

/** What envd reports about a path; a symlink is described by its target, with `symlinkTarget` set. */
export async function entryInfo(path: string): Promise<EntryInfo> {
  const link = await lstat(path).catch((error) => {
    throw fsError(error, path);
  });
  let info: Stats = link;
  let symlinkTarget: string | undefined;
  if (link.isSymbolicLink()) {
    symlinkTarget = resolve(path, "..", await readlink(path));
    info = await stat(path).catch(() => link);
  }
  return create(EntryInfoSchema, {
    name: basename(path),
    type: link.isSymbolicLink() ? FileType.SYMLINK : info.isDirectory() ? FileType.DIRECTORY : FileType.FILE,
    path,
    size: BigInt(info.size),
    mode: info.mode & 0o7777,
    permissions: permissionString(info),
    owner: nameOf(info.uid, "passwd"),
    group: nameOf(info.gid, "group"),
    modifiedTime: timestampFromMs(Math.floor(info.mtimeMs)),
    symlinkTarget,
  });
}

/** `ls -l`'s mode column, as Go's FileMode.String() prints it for envd (`drwxr-xr-x`, `-rw-r--r--`). */
function permissionString(info: Stats): string {
  const kind = info.isDirectory() ? "d" : info.isSymbolicLink() ? "L" : "-";
  const bits = "rwxrwxrwx";
  let text = kind;
  for (let i = 0; i < 9; i++) text += info.mode & (1 << (8 - i)) ? bits[i] : "-";
  return text;
}

const names: Record<"passwd" | "group", Map<number, string> | null> = { passwd: null, group: null };

function nameOf(id: number, table: "passwd" | "group"): string {
  if (!names[table]) {
    const map = new Map<number, string>();
    try {
      for (const line of readFileSync(`/etc/${table}`, "utf8").split("\n")) {
        const [name, , number] = line.split(":");
        if (name && number !== undefined && !map.has(Number(number))) map.set(Number(number), name);
      }
    } catch {
      // No such table: ids are shown as numbers.
    }
    names[table] = map;
  }
  return names[table]!.get(id) ?? String(id);
}

/** A file system error as the Connect code the SDK maps (NotFound → NotFoundError, and so on), naming the path. */
export function fsError(error: unknown, path: string): ConnectError {
  const code = (error as { code?: unknown })?.code;
  const message = (error as Error)?.message ?? String(error);
  switch (code) {
    case "ENOENT":
      return new ConnectError(`path '${path}' does not exist`, Code.NotFound);
    case "EACCES":
    case "EPERM":
      return new ConnectError(`permission denied: '${path}'`, Code.PermissionDenied);
    case "EEXIST":
    case "ENOTEMPTY":
      return new ConnectError(`path '${path}' already exists`, Code.AlreadyExists);
    case "ENOTDIR":
    case "EISDIR":
    case "EINVAL":
    case "ENAMETOOLONG":
    case "ELOOP":
      return new ConnectError(`path '${path}': ${message}`, Code.InvalidArgument);
    case "ENOSPC":
      return new ConnectError(`not enough disk space for '${path}'`, Code.ResourceExhausted);
    default:
      return new ConnectError(`path '${path}': ${message}`, Code.FailedPrecondition);
  }
}
