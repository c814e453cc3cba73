import type { FileHandle } from "node:fs/promises";
import { rockletErrors } from "./errors.ts";

/** One member of a zip archive, as its central directory describes it. */
export interface ZipEntry {
  name: string;
  method: number;
  encrypted: boolean;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
  isDirectory: boolean;
  /** Unix permission bits when the archive was made on Unix. */
  mode: number | null;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const MAX_COMMENT = 0xffff;

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await file.read(buffer, 0, length, position);
  if (bytesRead !== length) throw corrupt("unexpected end of archive");
  return buffer;
}

function corrupt(why: string) {
  return rockletErrors.valueError(`File is not a zip file or is damaged: ${why}`);
}

/** Reads the central directory (with Zip64 records when the classic fields overflow). */
export async function readZipDirectory(file: FileHandle, fileSize: number): Promise<ZipEntry[]> {
  const tailLength = Math.min(fileSize, 22 + MAX_COMMENT);
  if (tailLength < 22) throw corrupt("too short");
  const tailStart = fileSize - tailLength;
  const tail = await readAt(file, tailStart, tailLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw corrupt("no end of central directory record");
  let count = tail.readUInt16LE(eocd + 10);
  let directorySize = tail.readUInt32LE(eocd + 12);
  let directoryOffset = tail.readUInt32LE(eocd + 16);
  if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
    const locatorAt = tailStart + eocd - 20;
    const locator = locatorAt >= 0 ? await readAt(file, locatorAt, 20) : null;
    if (locator && locator.readUInt32LE(0) === ZIP64_LOCATOR_SIGNATURE) {
      const record = await readAt(file, Number(locator.readBigUInt64LE(8)), 56);
      if (record.readUInt32LE(0) !== ZIP64_EOCD_SIGNATURE) throw corrupt("bad zip64 end record");
      count = Number(record.readBigUInt64LE(32));
      directorySize = Number(record.readBigUInt64LE(40));
      directoryOffset = Number(record.readBigUInt64LE(48));
    }
  }
  if (directoryOffset + directorySize > fileSize) throw corrupt("central directory out of bounds");
  const directory = await readAt(file, directoryOffset, directorySize);
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let index = 0; index < count; index++) {
    if (at + 46 > directory.length || directory.readUInt32LE(at) !== CENTRAL_SIGNATURE) {
      throw corrupt("bad central directory entry");
    }
    entries.push(parseCentralEntry(directory, at));
    at += 46 + directory.readUInt16LE(at + 28) + directory.readUInt16LE(at + 30) + directory.readUInt16LE(at + 32);
  }
  return entries;
}

function parseCentralEntry(directory: Buffer, at: number): ZipEntry {
  const madeBy = directory.readUInt16LE(at + 4);
  const flags = directory.readUInt16LE(at + 8);
  const nameLength = directory.readUInt16LE(at + 28);
  const extraLength = directory.readUInt16LE(at + 30);
  const externalAttributes = directory.readUInt32LE(at + 38);
  const rawName = directory.subarray(at + 46, at + 46 + nameLength);
  const extra = directory.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength);
  let size = directory.readUInt32LE(at + 24);
  let compressedSize = directory.readUInt32LE(at + 20);
  let localHeaderOffset = directory.readUInt32LE(at + 42);
  const zip64 = findExtra(extra, 0x0001);
  if (zip64) {
    let cursor = 0;
    const next = () => Number(zip64.readBigUInt64LE((cursor += 8) - 8));
    if (size === 0xffffffff) size = next();
    if (compressedSize === 0xffffffff) compressedSize = next();
    if (localHeaderOffset === 0xffffffff) localHeaderOffset = next();
  }
  // Bit 11 means UTF-8; other names are decoded as UTF-8 when valid (Python would use CP437), else Latin-1.
  const name = flags & 0x800 ? rawName.toString("utf8") : decodeLegacyName(rawName);
  const unixMode = madeBy >> 8 === 3 ? externalAttributes >>> 16 : 0;
  return {
    name,
    method: directory.readUInt16LE(at + 10),
    encrypted: (flags & 1) !== 0,
    crc32: directory.readUInt32LE(at + 16),
    compressedSize,
    size,
    localHeaderOffset,
    isDirectory: name.endsWith("/") || (unixMode & 0o170000) === 0o040000 || (externalAttributes & 0x10) !== 0,
    mode: unixMode ? unixMode & 0o777 : null,
  };
}

function findExtra(extra: Buffer, id: number): Buffer | null {
  for (let at = 0; at + 4 <= extra.length; ) {
    const length = extra.readUInt16LE(at + 2);
    if (extra.readUInt16LE(at) === id) return extra.subarray(at + 4, at + 4 + length);
    at += 4 + length;
  }
  return null;
}

function decodeLegacyName(raw: Buffer): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    return raw.toString("latin1");
  }
}

/** Offset of an entry's data, past its local header (whose name/extra lengths may differ from the central copy). */
export async function dataOffset(file: FileHandle, entry: ZipEntry): Promise<number> {
  const header = await readAt(file, entry.localHeaderOffset, 30);
  if (header.readUInt32LE(0) !== LOCAL_SIGNATURE) throw corrupt(`bad local header for '${entry.name}'`);
  return entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
}
