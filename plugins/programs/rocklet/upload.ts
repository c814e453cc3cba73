import { copyFile, type FileHandle, mkdir, mkdtemp, open, rename, rm, stat, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { HttpError } from "./errors.ts";
import { boundaryOf, parseMultipart, type PartWriter } from "./multipart.ts";
import { isErrno, osError } from "./os-errors.ts";
import { invalid, parseBoolean } from "./validation.ts";
import { extractZip } from "./zip-extract.ts";

export interface UploadLimits {
  maxUploadBytes: number;
  /** Cap on the total size a zip may expand to. */
  maxUnzipBytes: number;
}

/** Slack for the multipart envelope around the file when the Content-Length is checked up front. */
const ENVELOPE_BYTES = 64 * 1024;

export function tooLarge(limit: number): HttpError {
  return new HttpError(413, { detail: `Upload exceeds the limit of ${limit} bytes` });
}

/**
 * `/upload`: multipart `file`, `target_path`, `unzip` (default false). The file streams to a private temporary
 * directory and is then moved to `target_path` (into it, when it is an existing directory) or, with `unzip`, extracted
 * into it. Bodies beyond the limit get 413, checked on the Content-Length and again while streaming.
 */
export async function handleUpload(request: Request, limits: UploadLimits) {
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (declared > limits.maxUploadBytes + ENVELOPE_BYTES) throw tooLarge(limits.maxUploadBytes);
  const boundary = boundaryOf(request.headers.get("content-type"));
  if (!boundary || !request.body) throw invalid("file", "missing", "Field required", null);

  const workDir = await mkdtemp(join(tmpdir(), "rocklet-upload-"));
  const received = new ReceivedUpload(join(workDir, "upload"), limits.maxUploadBytes);
  try {
    await parseMultipart(request.body, boundary, received);
    await received.close();
    const targetPath = received.fields.get("target_path");
    if (targetPath === undefined) throw invalid("target_path", "missing", "Field required", null);
    const rawUnzip = received.fields.get("unzip");
    const unzip = rawUnzip === undefined ? false : parseBoolean(rawUnzip);
    if (unzip === null) throw invalid("unzip", "bool_parsing", "Input should be a valid boolean", rawUnzip);
    if (received.filename === null) throw invalid("file", "missing", "Field required", null);
    if (unzip) await extractZip(received.path, targetPath, limits.maxUnzipBytes);
    else await moveInto(received.path, targetPath, received.filename);
    return { success: true, message: "", file_name: basename(received.filename) || basename(targetPath) };
  } finally {
    await received.close().catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
  }
}

/** Collects the form fields and streams the `file` part to `path`, counting bytes against the limit. */
class ReceivedUpload {
  readonly fields = new Map<string, string>();
  filename: string | null = null;
  private handle: Promise<FileHandle> | null = null;
  private size = 0;

  constructor(
    readonly path: string,
    private readonly limit: number,
  ) {}

  field(name: string, value: string): void {
    this.fields.set(name, value);
  }

  file(name: string, filename: string): PartWriter {
    if (name !== "file" || this.filename !== null) return { write: async () => undefined, end: async () => undefined };
    this.filename = filename;
    const handle = open(this.path, "w", 0o666);
    this.handle = handle;
    return {
      write: async (chunk) => {
        this.size += chunk.length;
        if (this.size > this.limit) throw tooLarge(this.limit);
        await (await handle).write(chunk);
      },
      end: () => this.close(),
    };
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    if (handle) await (await handle).close();
  }
}

async function moveInto(source: string, targetPath: string, filename: string): Promise<void> {
  let destination = targetPath;
  try {
    if ((await stat(targetPath)).isDirectory()) destination = join(targetPath, basename(filename) || "upload");
  } catch {
    // The target does not exist yet.
  }
  try {
    await mkdir(dirname(destination), { recursive: true });
    try {
      await rename(source, destination);
    } catch (error) {
      if (!isErrno(error, "EXDEV")) throw error;
      await copyFile(source, destination);
      await unlink(source);
    }
  } catch (error) {
    throw osError(error, destination);
  }
}
