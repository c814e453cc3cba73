/**
 * Streams a whole-text converter (OpenCC) over deltas without breaking a multi-character conversion at a
 * chunk edge: text is converted only up to the last character no dictionary key contains (a space, a
 * punctuation mark, …), and the tail after it waits for more text.
 *
 * A tail that grows past `maxHold` characters without such a character is cut at least `longestKey` characters
 * before its end (so no match before the cut can still grow), at the latest place where converting the two parts
 * separately gives the same text as converting the whole: a long run of CJK text without punctuation streams too.
 */
import type { EgressStream } from "../../../core/kinds/filter.ts";
import type { DictionaryChars } from "./dictionary-chars.ts";

function previousBoundary(text: string, index: number): number {
  const low = text.charCodeAt(index - 1);
  return index >= 2 && low >= 0xdc00 && low <= 0xdfff ? index - 2 : index - 1;
}

/** Index just after the last character no key contains, or 0. */
function afterLastFreeChar(text: string, chars: DictionaryChars): number {
  for (let i = text.length; i > 0; i = previousBoundary(text, i)) {
    const start = previousBoundary(text, i);
    if (!chars.inKeys.has(text.codePointAt(start)!)) return i;
  }
  return 0;
}

/** The latest cut at least `longestKey` characters before the end that converts like the whole, or 0. */
function forcedCut(text: string, convert: (s: string) => string, chars: DictionaryChars): number {
  let cut = text.length;
  for (let n = 0; n < chars.longestKey && cut > 0; n++) cut = previousBoundary(text, cut);
  const whole = convert(text);
  for (let p = cut; p > 0; p = previousBoundary(text, p)) {
    if (convert(text.slice(0, p)) + convert(text.slice(p)) === whole) return p;
  }
  return 0;
}

export function streamingConverter(convert: (s: string) => string, chars: DictionaryChars, maxHold: number): EgressStream {
  let pending = "";
  return {
    write(delta) {
      pending += delta;
      let cut = afterLastFreeChar(pending, chars);
      if (pending.length - cut > maxHold) cut = Math.max(cut, forcedCut(pending, convert, chars));
      if (cut === 0) return "";
      const settled = pending.slice(0, cut);
      pending = pending.slice(cut);
      return convert(settled);
    },
    flush() {
      const rest = pending;
      pending = "";
      return rest ? convert(rest) : "";
    },
  };
}
