import { dlopen, FFIType } from "bun:ffi";

/** libc calls Bun has no API for: becoming a child subreaper, and reaping adopted orphans. */

const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;

function openLibc() {
  const symbols = {
    prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
    waitpid: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  } as const;
  for (const name of ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"]) {
    try {
      return dlopen(name, symbols).symbols;
    } catch {
      // Try the next libc.
    }
  }
  return null;
}

const libc = openLibc();

/**
 * Makes orphans anywhere below this process (daemons, `cmd &` of a shell that exited, even ones that called setsid)
 * become its children instead of init's, so that it can find and kill them. False when the call is unavailable.
 */
export function becomeSubreaper(): boolean {
  return libc !== null && libc.prctl(PR_SET_CHILD_SUBREAPER, 1n, 0n, 0n, 0n) === 0;
}

/** Collects the exit status of a zombie child (Bun only reaps the children it spawned itself). */
export function reap(pid: number): void {
  libc?.waitpid(pid, null, WNOHANG);
}
