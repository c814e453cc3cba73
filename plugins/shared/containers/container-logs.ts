import type { ScopedContainer } from "../../../core/permissions/docker.ts";

/** Splits Docker's multiplexed log stream (8-byte frame headers: stream, 0, 0, 0, big-endian length) into text. */
function demultiplex(raw: Buffer): string {
  let out = "";
  let offset = 0;
  while (offset + 8 <= raw.length) {
    const length = raw.readUInt32BE(offset + 4);
    out += raw.subarray(offset + 8, offset + 8 + length).toString("utf8");
    offset += 8 + length;
  }
  return out;
}

/** The last lines a container wrote, for error messages; empty when they cannot be read. */
export async function logTail(container: ScopedContainer, lines = 20): Promise<string> {
  try {
    return demultiplex(await container.logs({ tail: lines })).trim();
  } catch {
    return "";
  }
}
