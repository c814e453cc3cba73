/**
 * `/v1/files`: uploads stored per user under the plugin's data dir (`knowledges/<uuid_str>/<name>`) and indexed at
 * once; list and delete. An upload is all or nothing: every name, type and size is checked, every file extracted and
 * embedded before anything is written; then each file goes to a temporary file, and one transaction writes the rows
 * and renames the files into place. Whatever fails, no file and no row of that request stays.
 */
import { mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HttpError } from "../../../../core/errors.ts";
import { ModelError } from "../../../../core/kinds/model.ts";
import type { Logger } from "../../../../core/log.ts";
import type { ServiceApp } from "../../../../core/kinds/service.ts";
import { deleteAnswers, FileParams, listAnswers, UploadBody, uploadAnswers, UserQuery, type Deleted, type Listed, type Uploaded } from "../../../protocol/assistant/files.ts";
import { chunkText } from "./chunk.ts";
import type { KnowledgeSettings } from "./config.ts";
import { ExtractionError, fileType, supportedTypes } from "./extract.ts";
import { Extractor } from "./extractor.ts";
import type { KnowledgeStore, PreparedFile } from "./store.ts";

/** A file of an upload: what the index gets, and the bytes to store. */
type Upload = PreparedFile & { data: Uint8Array };

const uuidPattern = /^[\p{L}\p{N}_@+-][\p{L}\p{N}_.@+-]{0,127}$/u;

/** Why `name` is not a plain file name, or undefined when it is one. */
export function invalidName(name: string): string | undefined {
  if (!name) return "the file name is empty";
  if (/[/\\]/.test(name)) return `'${name}' has a directory part`;
  if (name === "." || name === "..") return `'${name}' is not a file name`;
  if (/[\u0000-\u001f\u007f]/.test(name)) return `'${JSON.stringify(name).slice(1, -1)}' has control characters`;
  if (Buffer.byteLength(name) > 255) return `'${name.slice(0, 40)}…' is longer than 255 bytes`;
}

function checkUuid(uuid: string) {
  if (!uuidPattern.test(uuid)) {
    throw new HttpError(400, `uuid_str '${uuid.slice(0, 80)}' may hold only letters, digits and '_', '-', '.', '@', '+' (not first), at most 128 characters`, "uuid_str");
  }
}

export class KnowledgeFiles {
  readonly root: string;
  private readonly incoming: string;
  private readonly extractor: Extractor;

  constructor(
    dataDir: string,
    readonly store: KnowledgeStore,
    private readonly settings: KnowledgeSettings,
    private readonly log: Logger,
  ) {
    this.extractor = new Extractor(settings.extract_timeout_ms);
    this.root = join(dataDir, "knowledges");
    this.incoming = join(dataDir, "knowledge-incoming");
    mkdirSync(this.root, { recursive: true });
    this.sweep();
  }

  /** After a crash: temporary files, and files that no record claims (renamed before their transaction committed). */
  private sweep() {
    rmSync(this.incoming, { recursive: true, force: true });
    mkdirSync(this.incoming, { recursive: true });
    const known = this.store.allFiles();
    for (const user of readdirSync(this.root, { withFileTypes: true })) {
      const dir = join(this.root, user.name);
      if (!user.isDirectory()) {
        this.log.warn("removing a stray file among the users' knowledge directories", { file: user.name });
        rmSync(dir, { force: true });
        continue;
      }
      for (const name of readdirSync(dir)) {
        if (!known.has(`${user.name}/${name}`)) {
          this.log.warn("removing a knowledge file without a record", { uuid_str: user.name, file: name });
          rmSync(join(dir, name), { force: true, recursive: true });
        }
      }
      removeIfEmpty(dir);
    }
  }

  private async prepare(file: File, type: string): Promise<Upload> {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const text = await this.extractor.extract(file.name, type, bytes);
    const chunks = chunkText(text, { size: this.settings.chunk_chars, overlap: this.settings.chunk_overlap });
    if (!chunks.length) throw new ExtractionError(file.name, "has no text to index");
    return { name: file.name, type, bytes: file.size, chunks, data: bytes };
  }

  async upload(uuid: string, files: File[], signal?: AbortSignal): Promise<Uploaded["output"]> {
    checkUuid(uuid);
    const { max_file_bytes, max_files_per_request, max_files_per_user } = this.settings;
    if (files.length > max_files_per_request) {
      throw new HttpError(400, `${files.length} files in one upload, more than the limit of ${max_files_per_request} (knowledge.max_files_per_request)`, "files");
    }
    const fresh: { file: File; type: string }[] = [];
    const skipped: string[] = [];
    const seen = new Set<string>();
    for (const file of files) {
      const why = invalidName(file.name);
      if (why) throw new InvalidFileName(why);
    }
    for (const file of files) {
      const type = fileType(file.name);
      if (!type) throw new HttpError(400, `file '${file.name}': unsupported type (supported: ${supportedTypes.join(", ")})`, "files");
      if (file.size > max_file_bytes) {
        throw new HttpError(413, `file '${file.name}' is ${file.size} bytes, more than the limit of ${max_file_bytes} bytes (knowledge.max_file_bytes)`, "files");
      }
      if (seen.has(file.name) || this.store.has(uuid, file.name)) skipped.push(file.name);
      else fresh.push({ file, type });
      seen.add(file.name);
    }
    const total = this.store.count(uuid) + fresh.length;
    if (total > max_files_per_user) {
      throw new HttpError(400, `uuid_str '${uuid}' would have ${total} files, more than the limit of ${max_files_per_user} (knowledge.max_files_per_user)`, "files");
    }

    const prepared: Upload[] = [];
    for (const { file, type } of fresh) {
      try {
        prepared.push(await this.prepare(file, type));
      } catch (error) {
        if (error instanceof ExtractionError) throw new HttpError(400, error.message, "files");
        throw error;
      }
    }
    if (this.store.embedder && prepared.length) {
      const texts = prepared.flatMap((p) => p.chunks);
      let vectors: number[][];
      try {
        vectors = await this.store.embed(texts, "document", signal);
      } catch (error) {
        const detail = error instanceof Error ? error.message : String(error);
        throw new HttpError(error instanceof ModelError && error.status === 429 ? 429 : 502, `embeddings model '${this.store.embedder.key}' failed: ${detail}; nothing was stored`);
      }
      let at = 0;
      for (const p of prepared) p.vectors = vectors.slice(at, (at += p.chunks.length));
    }

    const temps = new Map<string, string>();
    const placed: string[] = [];
    const userDir = join(this.root, uuid);
    try {
      for (const p of prepared) {
        const temp = join(this.incoming, `${crypto.randomUUID()}.part`);
        writeFileSync(temp, p.data, { mode: 0o600 });
        temps.set(p.name, temp);
      }
      mkdirSync(userDir, { recursive: true });
      const added = this.store.add(uuid, prepared, (p) => {
        const target = join(userDir, p.name);
        renameSync(temps.get(p.name)!, target);
        placed.push(target);
      });
      for (const name of prepared.map((p) => p.name)) if (!added.includes(name)) skipped.push(name);
      return { status: "upload files success", files: added.map((name) => `knowledges/${uuid}/${name}`), skipped };
    } catch (error) {
      for (const target of placed) rmSync(target, { force: true });
      removeIfEmpty(userDir);
      throw error;
    } finally {
      for (const temp of temps.values()) rmSync(temp, { force: true });
    }
  }

  stop() {
    this.extractor.stop();
  }

  list(uuid: string): Listed["output"] {
    checkUuid(uuid);
    return { files: this.store.list(uuid).map((f) => ({ ...f, path: `knowledges/${uuid}/${f.name}` })) };
  }

  remove(uuid: string, name: string): Deleted["output"] {
    checkUuid(uuid);
    const why = invalidName(name);
    if (why) throw new InvalidFileName(why);
    if (!this.store.remove(uuid, name)) throw new HttpError(404, `uuid_str '${uuid}' has no file '${name}'`, "name");
    try {
      unlinkSync(join(this.root, uuid, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") this.log.warn("could not remove a knowledge file", { file: name, error: String(error) });
    }
    removeIfEmpty(join(this.root, uuid));
    return { status: "delete file success", file: name };
  }
}

function removeIfEmpty(dir: string) {
  try {
    rmdirSync(dir);
  } catch {
    // not empty, or not there
  }
}

/** The original's answer to a name with a directory part, with the reason beside it in the assistant's error shape. */
export class InvalidFileName extends Error {
  constructor(readonly reason: string) {
    super(`Invalid file name: ${reason}`);
  }
}

function invalidNameBody(requestId: string, error: InvalidFileName) {
  return {
    request_id: requestId,
    message: { status: "Invalid file name" },
    error: { message: error.message, type: "invalid_request_error", param: "files", code: null },
  };
}

export function mountFiles(app: ServiceApp, files: KnowledgeFiles) {
  const requestIdOf = (set: { headers: Record<string, unknown> }) => String(set.headers["x-request-id"] ?? crypto.randomUUID());
  return app
    .post(
      "/v1/files",
      async ({ body, request, set }) => {
        try {
          return { request_id: requestIdOf(set), message: "", output: await files.upload(body.uuid_str, body.files, request.signal) };
        } catch (error) {
          if (!(error instanceof InvalidFileName)) throw error;
          set.status = 400;
          return invalidNameBody(requestIdOf(set), error);
        }
      },
      { body: UploadBody, response: uploadAnswers, detail: { summary: "Upload files to a user's knowledge (stored and indexed)" } },
    )
    .get("/v1/files", ({ query, set }) => ({ request_id: requestIdOf(set), message: "", output: files.list(query.uuid_str) }), {
      query: UserQuery,
      response: listAnswers,
      detail: { summary: "A user's files" },
    })
    .delete(
      "/v1/files/:name",
      ({ params, query, set }) => {
        try {
          return { request_id: requestIdOf(set), message: "", output: files.remove(query.uuid_str, params.name) };
        } catch (error) {
          if (!(error instanceof InvalidFileName)) throw error;
          set.status = 400;
          return invalidNameBody(requestIdOf(set), error);
        }
      },
      { params: FileParams, query: UserQuery, response: deleteAnswers, detail: { summary: "Delete a user's file and its chunks" } },
    );
}
