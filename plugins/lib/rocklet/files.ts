import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { osError } from "./os-errors.ts";
import type { ReadFileRequest } from "./requests.ts";
import { decodeText, universalNewlines } from "./text-codecs.ts";

/**
 * `read_file`: Python's `Path(path).read_text(encoding, errors)`. Unlike ROCK behind its gateway, a missing file is an
 * error (FileNotFoundError naming the path), never empty content.
 */
export async function readTextFile(request: ReadFileRequest): Promise<{ content: string }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(request.path);
  } catch (error) {
    throw osError(error, request.path);
  }
  return { content: universalNewlines(decodeText(bytes, request.encoding, request.errors)) };
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
