/**
 * How the programs we ship into containers (rocklet, tool node) receive and keep secrets: the orchestrator writes them
 * as the first line of the process's stdin, so they are in neither the container's config (`docker inspect`), the
 * environment, the command line nor a file; and the process makes itself undumpable, so that commands running as
 * the same user cannot read its memory, environment or file descriptors through /proc.
 */
import { dlopen, FFIType } from "bun:ffi";

const PR_SET_DUMPABLE = 4;

/**
 * Clears the process's dumpable flag (prctl PR_SET_DUMPABLE 0): /proc/<pid>/{mem,environ,fd,maps} then need
 * CAP_SYS_PTRACE, which sandboxes do not have. Children get the flag back at exec. Returns why it could not be done
 * (not Linux, no glibc/musl libc found), or null.
 */
export function makeUndumpable(): string | null {
  if (process.platform !== "linux") return `not on Linux (${process.platform})`;
  let lastError: unknown;
  for (const name of ["libc.so.6", `libc.musl-${process.arch === "arm64" ? "aarch64" : "x86_64"}.so.1`, "libc.so"]) {
    try {
      const libc = dlopen(name, { prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 } });
      try {
        return libc.symbols.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) === 0 ? null : "prctl(PR_SET_DUMPABLE) failed";
      } finally {
        libc.close();
      }
    } catch (error) {
      lastError = error;
    }
  }
  return `no libc to call prctl with (${lastError instanceof Error ? lastError.message : lastError})`;
}

/**
 * Reads the first line of stdin (without its line break), waiting at most `timeoutMs`. What follows the line is left
 * unread. Fails when stdin ends first, when the line is longer than `maxBytes`, or at the deadline; the messages
 * name `what` and never contain what was read.
 */
export async function readStdinLine(what: string, timeoutMs: number, maxBytes: number): Promise<string> {
  const reader = Bun.stdin.stream().getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} arrived on stdin within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    for (;;) {
      const { value, done } = await Promise.race([reader.read(), deadline]);
      if (done) throw new Error(`stdin ended before a line with the ${what} arrived`);
      const end = value.indexOf(10);
      chunks.push(end < 0 ? value : value.subarray(0, end));
      size += end < 0 ? value.length : end;
      if (size > maxBytes) throw new Error(`the ${what} on stdin is longer than ${maxBytes} bytes`);
      if (end >= 0) break;
    }
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString("utf8").replace(/\r$/, "");
}
