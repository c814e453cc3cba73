import { rockletErrors } from "./errors.ts";
import { type DecodeErrors, decodeUtf8 } from "./utf8-decoder.ts";

/** Python's `bytes.decode(encoding, errors)` for the encodings read_file is realistically asked for. */

const ERROR_HANDLERS: readonly DecodeErrors[] = ["strict", "replace", "ignore", "backslashreplace", "surrogateescape"];

export function decodeText(bytes: Uint8Array, encoding: string | null, errors: string | null): string {
  const handler = (errors ?? "strict") as DecodeErrors;
  if (!ERROR_HANDLERS.includes(handler)) throw rockletErrors.lookupError(`unknown error handler name '${errors}'`);
  const name = (encoding ?? "utf-8").trim().toLowerCase().replaceAll("_", "-");
  if (["utf-8", "utf8", "u8", "utf", "cp65001"].includes(name)) return decodeUtf8(bytes, handler);
  if (name === "utf-8-sig") return decodeUtf8(hasBom(bytes) ? bytes.subarray(3) : bytes, handler);
  if (["latin-1", "latin1", "iso-8859-1", "iso8859-1", "l1", "8859"].includes(name)) return latin1(bytes);
  if (["ascii", "us-ascii", "646"].includes(name)) return ascii(bytes, handler);
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(name as ConstructorParameters<typeof TextDecoder>[0], { fatal: handler === "strict" });
  } catch {
    throw rockletErrors.lookupError(`unknown encoding: ${encoding}`);
  }
  try {
    return decoder.decode(bytes);
  } catch {
    throw rockletErrors.unicodeDecode(`'${encoding}' codec can't decode the file content`);
  }
}

function hasBom(bytes: Uint8Array): boolean {
  return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("latin1");
}

function ascii(bytes: Uint8Array, errors: DecodeErrors): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte < 0x80) out += String.fromCharCode(byte);
    else if (errors === "strict") {
      throw rockletErrors.unicodeDecode(
        `'ascii' codec can't decode byte 0x${byte.toString(16)} in position ${i}: ordinal not in range(128)`,
      );
    } else if (errors === "replace") out += "\ufffd";
    else if (errors === "backslashreplace") out += `\\x${byte.toString(16)}`;
    else if (errors === "surrogateescape") out += String.fromCharCode(0xdc00 + byte);
  }
  return out;
}

/** Text mode's universal newlines, as Python's `Path.read_text` applies them: `\r\n` and `\r` become `\n`. */
export function universalNewlines(text: string): string {
  return text.includes("\r") ? text.replace(/\r\n?/g, "\n") : text;
}
