/**
 * Which characters can take part in an OpenCC dictionary match, over every dictionary opencc-js ships.
 * A character outside this set is copied through unchanged by every conversion step and no match can span it,
 * so a stream can be cut right after it without changing the result.
 */
import { Locale } from "opencc-js";

export interface DictionaryChars {
  /** Code points that occur in some dictionary key. */
  inKeys: Set<number>;
  /** The longest key, in code points. */
  longestKey: number;
}

let cached: DictionaryChars | undefined;

function keysOf(dict: unknown): string[] {
  if (typeof dict === "string") return dict === "" ? [] : dict.split("|").map((entry) => entry.split(" ")[0]);
  return isPairList(dict) ? dict.map((pair) => pair[0]) : [];
}

/** A dictionary given as `[source, replacement]` pairs (a group of serialized dictionaries has spaces in them). */
function isPairList(value: unknown): value is [string, string][] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((pair) => Array.isArray(pair) && pair.length === 2 && typeof pair[0] === "string" && typeof pair[1] === "string" && !pair[0].includes(" "))
  );
}

function collect(value: unknown, into: unknown[]) {
  if (typeof value === "string" || isPairList(value)) {
    into.push(value);
  } else if (Array.isArray(value)) {
    for (const item of value) collect(item, into);
  } else if (value && typeof value === "object") {
    for (const item of Object.values(value)) collect(item, into);
  }
}

export function dictionaryChars(): DictionaryChars {
  if (cached) return cached;
  const dicts: unknown[] = [];
  collect(Locale, dicts);
  const inKeys = new Set<number>();
  let longestKey = 1;
  for (const dict of new Set(dicts)) {
    for (const key of keysOf(dict)) {
      let length = 0;
      for (const char of key) {
        inKeys.add(char.codePointAt(0)!);
        length++;
      }
      if (length > longestKey) longestKey = length;
    }
  }
  return (cached = { inKeys, longestKey });
}
