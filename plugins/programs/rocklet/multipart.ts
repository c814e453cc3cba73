import { HttpError } from "./errors.ts";

/** Receives the parts of a multipart/form-data body while it streams in; files never sit in memory as a whole. */
export interface PartSink {
  field(name: string, value: string): void;
  file(name: string, filename: string): PartWriter;
}

export interface PartWriter {
  write(chunk: Uint8Array): Promise<void>;
  end(): Promise<void>;
}

const MAX_HEADER_BYTES = 16 * 1024;
const MAX_FIELD_BYTES = 1024 * 1024;
const CRLF = Buffer.from("\r\n");
const HEADER_END = Buffer.from("\r\n\r\n");

export function boundaryOf(contentType: string | null): string | null {
  if (!contentType || !/^multipart\/form-data/i.test(contentType)) return null;
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return match ? (match[1] ?? match[2]) : null;
}

/**
 * Streaming multipart/form-data parser. The body is searched for `\r\n--boundary`; the text before the first
 * boundary has no leading CRLF, so one is prepended.
 */
export async function parseMultipart(body: ReadableStream<Uint8Array>, boundary: string, sink: PartSink): Promise<void> {
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  let buffer: Buffer = Buffer.from(CRLF);
  type State = "preamble" | "afterDelimiter" | "headers" | "body" | "done";
  let state = "preamble" as State;
  let field: { name: string; chunks: Buffer[]; size: number } | null = null;
  let file: PartWriter | null = null;

  const emit = async (data: Buffer) => {
    if (data.length === 0) return;
    if (file) return file.write(data);
    if (field) {
      field.size += data.length;
      if (field.size > MAX_FIELD_BYTES) throw badRequest(`form field '${field.name}' is too large`);
      field.chunks.push(data);
    }
  };
  const endPart = async () => {
    if (file) await file.end();
    if (field) sink.field(field.name, Buffer.concat(field.chunks).toString("utf8"));
    file = null;
    field = null;
  };

  const consume = async (final: boolean) => {
    for (;;) {
      if (state === "preamble" || state === "body") {
        const at = buffer.indexOf(delimiter);
        if (at < 0) {
          const keep = final ? 0 : delimiter.length - 1;
          if (state === "body") await emit(buffer.subarray(0, Math.max(0, buffer.length - keep)));
          buffer = buffer.subarray(Math.max(0, buffer.length - keep));
          return;
        }
        if (state === "body") {
          await emit(buffer.subarray(0, at));
          await endPart();
        }
        buffer = buffer.subarray(at + delimiter.length);
        state = "afterDelimiter";
      } else if (state === "afterDelimiter") {
        if (buffer.length < 2) return;
        if (buffer[0] === 0x2d && buffer[1] === 0x2d) {
          state = "done";
          return;
        }
        const lineEnd = buffer.indexOf(CRLF);
        if (lineEnd < 0) return;
        buffer = buffer.subarray(lineEnd + 2);
        state = "headers";
      } else if (state === "headers") {
        const end = buffer.indexOf(HEADER_END);
        const headerText = end < 0 ? null : buffer.subarray(0, end).toString("utf8");
        if (headerText === null) {
          if (buffer.length > MAX_HEADER_BYTES) throw badRequest("multipart part headers are too large");
          return;
        }
        buffer = buffer.subarray(end + 4);
        const { name, filename } = contentDisposition(headerText);
        if (filename !== null) file = sink.file(name, filename);
        else field = { name, chunks: [], size: 0 };
        state = "body";
      } else {
        return;
      }
    }
  };

  for await (const chunk of body) {
    buffer = buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([buffer, chunk]);
    await consume(false);
    if (state === "done") break;
  }
  await consume(true);
  if (state !== "done") throw badRequest("multipart body ended before its closing boundary");
}

function contentDisposition(headers: string): { name: string; filename: string | null } {
  const line = headers.split("\r\n").find((header) => /^content-disposition:/i.test(header)) ?? "";
  const name = /\bname="((?:[^"\\]|\\.)*)"/i.exec(line)?.[1] ?? /\bname=([^;\s]+)/i.exec(line)?.[1] ?? "";
  const extended = /\bfilename\*=(?:UTF-8|utf-8)''([^;\s]+)/.exec(line)?.[1];
  const quoted = /\bfilename="((?:[^"\\]|\\.)*)"/i.exec(line)?.[1] ?? /\bfilename=([^;\s]+)/i.exec(line)?.[1];
  const filename = extended !== undefined ? decodeURIComponent(extended) : (quoted ?? null);
  return { name: unescapeQuoted(name), filename: filename === null ? null : unescapeQuoted(filename) };
}

function unescapeQuoted(text: string): string {
  return text.replace(/\\(.)/g, "$1");
}

function badRequest(message: string): HttpError {
  return new HttpError(400, { detail: message });
}
