/**
 * End-of-command markers for bash sessions. Each command is followed by
 * `printf '\n%s%s %d\n' <half1> <half2> "$?"`: the marker only exists joined in the output, never in the command text
 * (so `set -v`/`set -x` echo cannot fake it), and it is random per command, so program output cannot guess it.
 */
export interface Sentinel {
  readonly marker: string;
  /** The shell statement that prints the marker followed by the previous status. */
  readonly printStatement: string;
  /** Text found in a `set -x` trace of the print statement (its first argument). */
  readonly traceHint: string;
}

export function newSentinel(): Sentinel {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  const first = `RKLT${hex.slice(0, 16)}`;
  const second = `${hex.slice(16)}END`;
  return {
    marker: first + second,
    printStatement: `printf '\\n%s%s %d\\n' ${first} ${second} "$?"`,
    traceHint: `${first} ${second}`,
  };
}

export interface SentinelHit {
  /** Index of the newline that the print statement emits before the marker. */
  start: number;
  /** Index just past the marker line. */
  end: number;
  exitCode: number;
}

/** Finds a complete marker line (`\n<marker> <status>\n`) in `text` at or after `from`. */
export function findSentinel(text: string, sentinel: Sentinel, from = 0): SentinelHit | null {
  const at = text.indexOf(sentinel.marker, from);
  if (at < 0) return null;
  const lineEnd = text.indexOf("\n", at);
  if (lineEnd < 0) return null;
  const status = /^ (-?\d+)$/.exec(text.slice(at + sentinel.marker.length, lineEnd));
  if (!status) return null;
  const start = at > 0 && text[at - 1] === "\n" ? at - 1 : at;
  return { start, end: lineEnd + 1, exitCode: Number(status[1]) };
}

/** Removes the marker lines of `sentinels` from `text` (used after an interrupt, when stale markers may show up). */
export function stripSentinels(text: string, sentinels: readonly Sentinel[]): string {
  let out = text;
  for (const sentinel of sentinels) {
    for (let hit = findSentinel(out, sentinel); hit; hit = findSentinel(out, sentinel)) {
      out = out.slice(0, hit.start) + out.slice(hit.end);
    }
  }
  return out;
}
