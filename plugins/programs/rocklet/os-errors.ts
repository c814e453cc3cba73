import { RockletError } from "./errors.ts";
import { pythonRepr } from "../../protocol/python-repr.ts";

/** Python's OSError subclasses by errno name, so that clients re-raise e.g. `FileNotFoundError`. */
const PYTHON_CLASS_BY_CODE: Record<string, string> = {
  ENOENT: "FileNotFoundError",
  EACCES: "PermissionError",
  EPERM: "PermissionError",
  EISDIR: "IsADirectoryError",
  ENOTDIR: "NotADirectoryError",
  EEXIST: "FileExistsError",
  EAGAIN: "BlockingIOError",
};

const STRERROR_BY_CODE: Record<string, [number, string]> = {
  ENOENT: [2, "No such file or directory"],
  EACCES: [13, "Permission denied"],
  EPERM: [1, "Operation not permitted"],
  EISDIR: [21, "Is a directory"],
  ENOTDIR: [20, "Not a directory"],
  EEXIST: [17, "File exists"],
  ENOSPC: [28, "No space left on device"],
  EROFS: [30, "Read-only file system"],
  ENAMETOOLONG: [36, "File name too long"],
  ELOOP: [40, "Too many levels of symbolic links"],
  ENXIO: [6, "No such device or address"],
  EAGAIN: [11, "Resource temporarily unavailable"],
};

/** Turns a Node/Bun system error about `path` into Python's `[Errno N] text: 'path'` form. */
export function osError(error: unknown, path: string): RockletError {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== "string") {
    return new RockletError(error instanceof Error ? error.message : String(error), "builtins.OSError");
  }
  const known = STRERROR_BY_CODE[code];
  const message = known ? `[Errno ${known[0]}] ${known[1]}: ${pythonRepr(path)}` : `[${code}] ${pythonRepr(path)}`;
  return new RockletError(message, `builtins.${PYTHON_CLASS_BY_CODE[code] ?? "OSError"}`);
}

export function isErrno(error: unknown, code: string): boolean {
  return (error as { code?: unknown })?.code === code;
}
