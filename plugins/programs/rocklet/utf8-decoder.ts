import { rockletErrors } from "./errors.ts";

/** Python's codec error handlers for bytes that are not valid UTF-8. */
export type DecodeErrors = "strict" | "replace" | "ignore" | "backslashreplace" | "surrogateescape";

/**
 * Incremental UTF-8 decoder with Python's error handlers (the default, `backslashreplace`, is what ROCK applies to
 * command output: invalid bytes become `\xNN`). A sequence cut at a chunk boundary is held back until the next chunk.
 */
export class Utf8Decoder {
  private pending: Uint8Array = new Uint8Array(0);
  private readonly fast = new TextDecoder("utf-8", { fatal: true });

  constructor(private readonly errors: DecodeErrors = "backslashreplace") {}

  decode(chunk: Uint8Array, final = false): string {
    let bytes = chunk;
    if (this.pending.length > 0) {
      bytes = new Uint8Array(this.pending.length + chunk.length);
      bytes.set(this.pending);
      bytes.set(chunk, this.pending.length);
    }
    const cut = final ? bytes.length : completeLength(bytes);
    this.pending = bytes.slice(cut);
    const body = cut === bytes.length ? bytes : bytes.subarray(0, cut);
    try {
      return this.fast.decode(body);
    } catch {
      return decodeSlowly(body, this.errors);
    }
  }
}

/** One-shot decoding of a whole buffer. */
export function decodeUtf8(bytes: Uint8Array, errors: DecodeErrors = "backslashreplace"): string {
  return new Utf8Decoder(errors).decode(bytes, true);
}

/** Length of `bytes` without a trailing multi-byte sequence that may still be completed by the next chunk. */
function completeLength(bytes: Uint8Array): number {
  const end = bytes.length;
  for (let back = 1; back <= 3 && back <= end; back++) {
    const byte = bytes[end - back];
    if ((byte & 0xc0) === 0x80) continue;
    const need = sequenceLength(byte);
    return need > back ? end - back : end;
  }
  return end;
}

function sequenceLength(lead: number): number {
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 1;
}

/** Bounds of the second byte after a lead byte (Unicode Table 3-7: no overlongs, no surrogates, ≤ U+10FFFF). */
function secondByteRange(lead: number): [number, number] {
  if (lead === 0xe0) return [0xa0, 0xbf];
  if (lead === 0xed) return [0x80, 0x9f];
  if (lead === 0xf0) return [0x90, 0xbf];
  if (lead === 0xf4) return [0x80, 0x8f];
  return [0x80, 0xbf];
}

function decodeSlowly(bytes: Uint8Array, errors: DecodeErrors): string {
  const parts: string[] = [];
  let runStart = 0;
  let i = 0;
  const flushValid = (end: number) => {
    if (end > runStart) parts.push(new TextDecoder().decode(bytes.subarray(runStart, end)));
  };
  while (i < bytes.length) {
    const lead = bytes[i];
    if (lead < 0x80) {
      i++;
      continue;
    }
    const need = sequenceLength(lead);
    let valid = 0;
    if (need > 1) {
      valid = 1;
      const [low, high] = secondByteRange(lead);
      while (valid < need && i + valid < bytes.length) {
        const byte = bytes[i + valid];
        const ok = valid === 1 ? byte >= low && byte <= high : (byte & 0xc0) === 0x80;
        if (!ok) break;
        valid++;
      }
    }
    if (need > 1 && valid === need) {
      i += need;
      continue;
    }
    flushValid(i);
    const bad = bytes.subarray(i, i + Math.max(valid, 1));
    parts.push(handleInvalid(bad, i, errors));
    i += bad.length;
    runStart = i;
  }
  flushValid(bytes.length);
  return parts.join("");
}

function handleInvalid(bad: Uint8Array, position: number, errors: DecodeErrors): string {
  switch (errors) {
    case "ignore":
      return "";
    case "replace":
      return "\ufffd";
    case "surrogateescape":
      return Array.from(bad, (b) => String.fromCharCode(0xdc00 + b)).join("");
    case "strict":
      throw rockletErrors.unicodeDecode(
        `'utf-8' codec can't decode byte 0x${bad[0].toString(16).padStart(2, "0")} in position ${position}: ` +
          (bad.length > 1 ? "invalid continuation byte" : "invalid start byte"),
      );
    default:
      return Array.from(bad, (b) => `\\x${b.toString(16).padStart(2, "0")}`).join("");
  }
}
