import { constants } from "node:fs";
import { mkdir, open, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { RockletError } from "./errors.ts";
import { osError } from "./os-errors.ts";
import { pythonRepr } from "../../protocol/python-repr.ts";
import type { ReadFileRequest } from "./requests.ts";
import { decodeText, universalNewlines } from "./text-codecs.ts";

/**
 * `read_file`: Python's `Path(path).read_text(encoding, errors)`. Unlike ROCK behind its gateway, a missing file is an
 * error (FileNotFoundError naming the path), never empty content; so is a file larger than `maxBytes`, a pipe or a
 * socket. The answer is one JSON string, held several times over on its way out (bytes, text, JSON, and again in
 * the admin), so the whole file must fit comfortably in memory.
 */
export async function readTextFile(request: ReadFileRequest, maxBytes: number): Promise<{ content: string }> {
  const bytes = await readBounded(request.path, maxBytes);
  return { content: universalNewlines(decodeText(bytes, request.encoding, request.errors)) };
}

const FIRST_READ = 64 * 1024;

/**
 * At most `limit` bytes of `path`, or an error. The stat size is only a first check: /proc files say 0 and devices
 * say nothing, so the read itself stops after `limit + 1` bytes, whatever the size claimed.
 */
async function readBounded(path: string, limit: number): Promise<Uint8Array> {
  let file;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer, nor a read of a device for data (regular files ignore it).
    file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    throw osError(error, path);
  }
  try {
    const stat = await file.stat();
    if (stat.isDirectory()) throw osError({ code: "EISDIR" }, path);
    if (stat.isFIFO() || stat.isSocket()) throw notAFile(path, stat.isFIFO() ? "a FIFO (named pipe)" : "a socket");
    if (stat.isFile() && stat.size > limit) throw tooLarge(path, `${stat.size} bytes`, limit);
    let buffer = new Uint8Array(Math.min(limit + 1, Math.max(stat.size + 1, FIRST_READ)));
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > limit) throw tooLarge(path, `more than ${limit} bytes`, limit);
        const larger = new Uint8Array(Math.min(limit + 1, length * 2));
        larger.set(buffer);
        buffer = larger;
      }
      const { bytesRead } = await file.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) return buffer.subarray(0, length);
      length += bytesRead;
    }
  } catch (error) {
    throw error instanceof RockletError ? error : osError(error, path);
  } finally {
    await file.close();
  }
}

function tooLarge(path: string, size: string, limit: number): RockletError {
  return new RockletError(
    `[Errno 27] File too large: ${pythonRepr(path)} is ${size}; read_file returns at most ${limit} bytes (${mebibytes(limit)}, ` +
      `the rocklet's --max-read-bytes). Read it in parts with execute, e.g. \`head -c 1000000 FILE\`, \`tail -c\` or ` +
      `\`split -b 8M FILE part.\`, or compress it first (\`gzip -c FILE | base64\`).`,
    "builtins.OSError",
  );
}

function notAFile(path: string, what: string): RockletError {
  return new RockletError(
    `${pythonRepr(path)} is ${what}, not a regular file: read_file does not wait on it. ` +
      "Read it with execute and a timeout instead, e.g. `timeout 5 cat FILE`.",
    "builtins.OSError",
  );
}

function mebibytes(bytes: number): string {
  const mib = bytes / 1024 ** 2;
  return `${Number.isInteger(mib) ? mib : mib.toFixed(2)} MiB`;
}

/** `write_file`: creates missing parent directories, writes UTF-8 text. */
export async function writeTextFile(request: { path: string; content: string }): Promise<{ success: true; message: "" }> {
  try {
    await mkdir(dirname(request.path), { recursive: true });
    await writeFile(request.path, request.content, "utf8");
  } catch (error) {
    throw osError(error, request.path);
  }
  return { success: true, message: "" };
}
