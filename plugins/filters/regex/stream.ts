/**
 * Regex replacement over a stream. A match may span chunk edges, so the last `window` characters wait for
 * more text; matches are assumed to be at most `window` characters long (a longer one may be missed when it
 * straddles a cut).
 */
import type { EgressStream } from "../../../core/kinds/filter.ts";

export function streamingReplace(pattern: RegExp, replacement: string, window: number): EgressStream {
  let pending = "";
  const settle = (final: boolean) => {
    const limit = final ? pending.length : pending.length - window;
    if (limit <= 0) return "";
    let cut = limit;
    for (const match of pending.matchAll(pattern)) {
      if (match.index >= limit) break;
      cut = Math.max(cut, match.index + match[0].length);
    }
    const settled = pending.slice(0, cut);
    pending = pending.slice(cut);
    return settled.replace(pattern, replacement);
  };
  return {
    write(delta) {
      pending += delta;
      return settle(false);
    },
    flush: () => settle(true),
  };
}
