/**
 * `/v1/files` of the ModelScope assistant server: the original's upload (multipart `uuid_str` + `files`, answered
 * with `output.files` as server-relative paths, a name with a directory part refused with
 * `{"request_id","message":{"status":"Invalid file name"}}`), and the list and delete the original lacks.
 */
import { Type } from "@sinclair/typebox";
import { t, type Static } from "elysia";
import { Reply } from "../responses.ts";

const Integer = Type.Integer;

const UuidStr = t.String({ description: "The user whose files these are (letters, digits, '_', '-', '.', '@', '+'; at most 128)" });

export const UploadBody = t.Object({
  uuid_str: UuidStr,
  files: t.Files({ description: "One or more files: txt, md, html, json, csv, pdf, docx" }),
});

export const UserQuery = t.Object({ uuid_str: UuidStr });
export const FileParams = t.Object({ name: t.String({ description: "The file's name, as uploaded" }) });

const Envelope = <P extends Record<string, any>>(output: P) => Reply({ request_id: t.String(), message: t.String(), output: Reply(output) });

export const Uploaded = Envelope({
  status: t.Literal("upload files success"),
  files: t.Array(t.String(), { description: "Paths of the files stored now, e.g. knowledges/<uuid_str>/<name>" }),
  skipped: t.Array(t.String(), { description: "Names the user already had: kept as they were (delete one to replace it)" }),
});
export type Uploaded = Static<typeof Uploaded>;

export const FileRecord = Reply({
  name: t.String(),
  path: t.String(),
  type: t.String(),
  bytes: Integer(),
  chunks: Integer({ description: "Indexed chunks" }),
  embedded: t.Boolean({ description: "Whether the chunks have vectors from the configured embeddings model" }),
  uploaded_at: t.String(),
});

export const Listed = Envelope({ files: t.Array(FileRecord) });
export type Listed = Static<typeof Listed>;

export const Deleted = Envelope({ status: t.Literal("delete file success"), file: t.String() });
export type Deleted = Static<typeof Deleted>;

/** The assistant's error shape; `message` is `{status}` where the original answers so. */
export const FilesError = Reply({
  request_id: t.String(),
  message: t.Union([t.String(), Reply({ status: t.String() })]),
  error: Reply({ message: t.String(), type: t.String(), param: t.Nullable(t.String()), code: t.Null() }),
});

const errors = { "4XX": FilesError, "5XX": FilesError };
export const uploadAnswers = { 200: Uploaded, 400: FilesError, ...errors };
export const listAnswers = { 200: Listed, ...errors };
export const deleteAnswers = { 200: Deleted, 400: FilesError, ...errors };
