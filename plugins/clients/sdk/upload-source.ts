/** What `upload` accepts: a local file path, bytes, or a Blob/File; turned into the File of the multipart body. */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";

export type UploadSource = string | Uint8Array | ArrayBuffer | Blob;

export async function toUploadFile(source: UploadSource, fileName?: string): Promise<File> {
  if (typeof source === "string") {
    const bytes = await readFile(source).catch((error: NodeJS.ErrnoException) => {
      throw new TypeError(`cannot read '${source}' for upload: ${error.code === "ENOENT" ? "no such file" : error.message}`);
    });
    return new File([bytes], fileName ?? basename(source));
  }
  if (source instanceof File && !fileName) return source;
  if (source instanceof Blob) return new File([source], fileName ?? "upload");
  return new File([source instanceof ArrayBuffer ? new Uint8Array(source) : source], fileName ?? "upload");
}
