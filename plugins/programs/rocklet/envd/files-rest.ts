import { ConnectError } from "@connectrpc/connect";
import { type FileHandle, mkdir, open, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { HttpError } from "../errors.ts";
import { boundaryOf, parseMultipart, type PartWriter } from "../multipart.ts";
import type { SystemUser } from "../users.ts";
import { missingDirectories, resolvePath } from "./filesystem.ts";
import { chownTo, userNamed } from "./user.ts";

export interface FilesOptions {
  home: string;
  /** Largest file one upload may write. */
  maxUploadBytes: number;
}

/** envd's REST error body. */
export function envdError(code: number, message: string): Response {
  return Response.json({ code, message }, { status: code });
}

/**
 * `GET /files?path=`: the file's bytes. `POST /files?path=`: a multipart body (one `file` part per file, written to
 * `path` or, without it, to the part's file name) or a raw `application/octet-stream` body (gzip with
 * `Content-Encoding: gzip`) written to `path`; parent directories are created, existing files replaced. Relative
 * paths are under the home directory, as in envd.
 */
export async function handleFiles(request: Request, url: URL, options: FilesOptions): Promise<Response> {
  try {
    let user: SystemUser | null;
    try {
      user = userNamed(url.searchParams.get("username"));
    } catch (error) {
      // envd's answer to a user it cannot act as.
      return envdError(401, (error as ConnectError).rawMessage);
    }
    const home = user?.home ?? options.home;
    const raw = url.searchParams.get("path");
    const path = raw === null || raw === "" ? null : resolvePath(raw, home);
    if (request.method === "GET") return await download(path);
    const written = await upload(request, path, { ...options, home });
    await chownTo(user, written.flatMap((file) => [...file.createdDirs, file.path]));
    return Response.json(written.map((file) => file.entry()));
  } catch (error) {
    if (error instanceof HttpError) return envdError(error.status, describeHttpError(error));
    if (error instanceof ConnectError) return envdError(400, error.rawMessage);
    throw error;
  }
}

async function download(path: string | null): Promise<Response> {
  if (path === null) throw new HttpError(400, { detail: "path: required (the file to download)" });
  const info = await stat(path).catch((error) => {
    throw fileError(error, path);
  });
  if (info.isDirectory()) throw new HttpError(400, { detail: `path '${path}' is a directory` });
  // A FIFO would hang the call and a device such as /dev/zero never end: only regular files are read.
  if (!info.isFile()) throw new HttpError(400, { detail: `path '${path}' is not a regular file` });
  return new Response(Bun.file(path), { headers: { "content-type": "application/octet-stream" } });
}

async function upload(request: Request, path: string | null, options: FilesOptions) {
  if (!request.body) throw new HttpError(400, { detail: "body: expected a multipart/form-data or application/octet-stream body" });
  const contentType = request.headers.get("content-type") ?? "";
  const boundary = boundaryOf(contentType);
  if (boundary) {
    const written: Target[] = [];
    const sink = {
      field: () => undefined,
      file: (_name: string, filename: string): PartWriter => {
        const target = path ?? (filename ? resolvePath(filename, options.home) : null);
        if (target === null) throw new HttpError(400, { detail: "path: required when a file part has no file name" });
        const file = new Target(target, options.maxUploadBytes);
        written.push(file);
        return file;
      },
    };
    try {
      await parseMultipart(request.body, boundary, sink);
    } finally {
      for (const file of written) await file.end().catch(() => undefined);
    }
    if (written.length === 0) throw new HttpError(400, { detail: "file: the form has no file part" });
    return written;
  }
  if (!/^application\/octet-stream\b/i.test(contentType)) {
    throw new HttpError(400, { detail: `content-type: expected multipart/form-data or application/octet-stream (got '${contentType}')` });
  }
  if (path === null) throw new HttpError(400, { detail: "path: required with an application/octet-stream body" });
  const encoding = (request.headers.get("content-encoding") ?? "identity").toLowerCase();
  if (encoding !== "identity" && encoding !== "gzip") throw new HttpError(415, { detail: `content-encoding: '${encoding}' is not supported (identity, gzip)` });
  const body = encoding === "gzip" ? request.body.pipeThrough(new DecompressionStream("gzip")) : request.body;
  const file = new Target(path, options.maxUploadBytes);
  try {
    for await (const chunk of body) await file.write(chunk);
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw new HttpError(400, { detail: `body: ${(error as Error).message}` });
  } finally {
    await file.end();
  }
  return [file];
}

/** One uploaded file, written as it streams in; an upload over the limit stops with 413. */
class Target implements PartWriter {
  private handle: Promise<FileHandle> | null = null;
  private size = 0;
  /** The parent directories this upload created (given to the user it acts as). */
  createdDirs: string[] = [];

  constructor(
    readonly path: string,
    private readonly limit: number,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    this.size += chunk.length;
    if (this.size > this.limit) throw new HttpError(413, { detail: `the file exceeds the upload limit of ${this.limit} bytes` });
    await (await this.open()).write(chunk);
  }

  async end(): Promise<void> {
    const handle = await this.open();
    this.handle = Promise.resolve(handle);
    await handle.close().catch(() => undefined);
  }

  entry() {
    return { name: basename(this.path), type: "file", path: this.path };
  }

  private open(): Promise<FileHandle> {
    this.handle ??= (async () => {
      try {
        this.createdDirs = missingDirectories(dirname(this.path));
        await mkdir(dirname(this.path), { recursive: true });
        return await open(this.path, "w");
      } catch (error) {
        throw fileError(error, this.path);
      }
    })();
    return this.handle;
  }
}

function fileError(error: unknown, path: string): HttpError {
  const code = (error as { code?: unknown })?.code;
  if (code === "ENOENT") return new HttpError(404, { detail: `path '${path}' does not exist` });
  if (code === "EACCES" || code === "EPERM") return new HttpError(403, { detail: `permission denied: '${path}'` });
  if (code === "EISDIR") return new HttpError(400, { detail: `path '${path}' is a directory` });
  if (code === "ENOSPC") return new HttpError(507, { detail: "not enough disk space available" });
  return new HttpError(400, { detail: `path '${path}': ${(error as Error).message}` });
}

function describeHttpError(error: HttpError): string {
  const detail = (error.body as { detail?: unknown })?.detail;
  return typeof detail === "string" ? detail : JSON.stringify(detail);
}
