import { constants } from "node:fs";
import { chmod, type FileHandle, lstat, mkdir, open, realpath, unlink } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { createInflateRaw } from "node:zlib";
import { rockletErrors } from "./errors.ts";
import { osError } from "./os-errors.ts";
import { pythonRepr } from "../../protocol/python-repr.ts";
import { dataOffset, readZipDirectory, type ZipEntry } from "./zip-reader.ts";

const STORED = 0;
const DEFLATED = 8;
const READ_CHUNK = 1024 * 1024;

/**
 * Extracts `zipPath` into `targetDir` (created if needed). Every entry is vetted before anything is written: an
 * absolute name or a `..` component (zip-slip) refuses the whole archive. While writing, parent directories are
 * resolved through symlinks and must stay inside the target, and files are opened with O_NOFOLLOW. Sizes and CRCs are
 * checked against the central directory, and the declared total is capped (zip bombs).
 */
export async function extractZip(zipPath: string, targetDir: string, maxTotalBytes: number): Promise<number> {
  const file = await open(zipPath, "r");
  try {
    const entries = await readZipDirectory(file, (await file.stat()).size);
    const plan = entries.map((entry) => ({ entry, relative: safeRelativePath(entry.name) }));
    const total = entries.reduce((sum, entry) => sum + entry.size, 0);
    if (total > maxTotalBytes) {
      throw rockletErrors.valueError(`zip archive expands to ${total} bytes, above the limit of ${maxTotalBytes}`);
    }
    for (const { entry } of plan) {
      if (entry.encrypted) throw rockletErrors.valueError(`zip entry ${pythonRepr(entry.name)} is encrypted`);
      if (!entry.isDirectory && entry.method !== STORED && entry.method !== DEFLATED) {
        throw rockletErrors.valueError(`zip entry ${pythonRepr(entry.name)} uses unsupported method ${entry.method}`);
      }
    }
    await mkdir(targetDir, { recursive: true }).catch((error) => {
      throw osError(error, targetDir);
    });
    const root = await realpath(targetDir);
    for (const { entry, relative } of plan) {
      if (relative === "") continue;
      const destination = join(root, relative);
      if (entry.isDirectory) {
        await mkdir(destination, { recursive: true });
        await assertInside(root, destination, entry.name);
        continue;
      }
      await mkdir(dirname(destination), { recursive: true });
      await assertInside(root, dirname(destination), entry.name);
      await writeEntry(file, entry, destination);
    }
    return entries.length;
  } finally {
    await file.close();
  }
}

function safeRelativePath(name: string): string {
  const parts = name.split("/");
  if (name.includes("\0") || name.startsWith("/") || parts.includes("..")) {
    throw rockletErrors.valueError(
      `unsafe zip entry ${pythonRepr(name)}: it would be extracted outside the target directory`,
    );
  }
  return parts.filter((part) => part !== "" && part !== ".").join("/");
}

async function assertInside(root: string, directory: string, name: string): Promise<void> {
  const real = await realpath(directory);
  if (real !== root && !real.startsWith(root + sep)) {
    throw rockletErrors.valueError(
      `unsafe zip entry ${pythonRepr(name)}: a symbolic link leads it outside the target directory`,
    );
  }
}

async function writeEntry(zip: FileHandle, entry: ZipEntry, destination: string): Promise<void> {
  const existing = await lstat(destination).catch(() => null);
  if (existing?.isSymbolicLink()) await unlink(destination);
  if (existing?.isDirectory()) throw osError({ code: "EISDIR" }, destination);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
  const out = await open(destination, flags, 0o644);
  let written = 0;
  let crc = 0;
  try {
    for await (const chunk of entryData(zip, entry, await dataOffset(zip, entry))) {
      written += chunk.length;
      if (written > entry.size) throw damaged(entry, "more data than declared");
      crc = Bun.hash.crc32(chunk, crc);
      await out.write(chunk);
    }
  } finally {
    await out.close();
  }
  if (written !== entry.size) throw damaged(entry, "less data than declared");
  if (crc >>> 0 !== entry.crc32 >>> 0) throw damaged(entry, "CRC mismatch");
  // Permission bits are kept (executable scripts stay executable); modes without any bit are ignored.
  if (entry.mode) await chmod(destination, entry.mode);
}

function damaged(entry: ZipEntry, why: string) {
  return rockletErrors.valueError(`zip entry ${pythonRepr(entry.name)} is damaged: ${why}`);
}

async function* compressedData(zip: FileHandle, start: number, length: number): AsyncGenerator<Buffer> {
  for (let done = 0; done < length; ) {
    const size = Math.min(READ_CHUNK, length - done);
    const buffer = Buffer.alloc(size);
    const { bytesRead } = await zip.read(buffer, 0, size, start + done);
    if (bytesRead === 0) throw rockletErrors.valueError("zip archive is truncated");
    done += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

async function* entryData(zip: FileHandle, entry: ZipEntry, start: number): AsyncGenerator<Buffer> {
  const source = compressedData(zip, start, entry.compressedSize);
  if (entry.method === STORED) {
    yield* source;
    return;
  }
  const inflate = createInflateRaw();
  const feeding = (async () => {
    try {
      for await (const chunk of source) {
        if (!inflate.write(chunk)) await new Promise((resolve) => inflate.once("drain", resolve));
      }
      inflate.end();
    } catch (error) {
      inflate.destroy(error as Error);
    }
  })();
  try {
    for await (const chunk of inflate) yield chunk as Buffer;
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith("Z_")) throw damaged(entry, "invalid deflate data");
    throw error;
  }
  await feeding;
}
