/**
 * Text out of an uploaded file, by its extension: plain text and markdown as they are, html through html-to-text,
 * json and csv checked and kept readable, pdf through pdf.js (unpdf), docx through mammoth. A file that cannot be read
 * is an ExtractionError naming it, which the route answers with 400.
 */
import { convert } from "html-to-text";
import mammoth from "mammoth";
import { extractText, getDocumentProxy } from "unpdf";

export const supportedTypes = ["txt", "md", "markdown", "html", "htm", "json", "csv", "pdf", "docx"] as const;

export class ExtractionError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`file '${file}': ${reason}`);
    this.name = "ExtractionError";
  }
}

/** The file's type from its extension, or undefined when it is not one we index. */
export function fileType(name: string): string | undefined {
  const dot = name.lastIndexOf(".");
  const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
  return (supportedTypes as readonly string[]).includes(ext) ? ext : undefined;
}

/** Text files: UTF-8 (a BOM is dropped), UTF-16 with a BOM, or GB18030, which Chinese text files often are. */
function decodeText(file: string, bytes: Uint8Array): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le").decode(bytes);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {}
  try {
    return new TextDecoder("gb18030", { fatal: true }).decode(bytes);
  } catch {
    throw new ExtractionError(file, "is not text in UTF-8, UTF-16 or GB18030");
  }
}

/** JSON as `path: value` lines, so that keys and values are both found. */
function flattenJson(value: unknown, path: string, out: string[]) {
  if (Array.isArray(value)) value.forEach((item, i) => flattenJson(item, `${path}[${i}]`, out));
  else if (value && typeof value === "object") for (const [key, item] of Object.entries(value)) flattenJson(item, path ? `${path}.${key}` : key, out);
  else out.push(path ? `${path}: ${String(value)}` : String(value));
}

async function pdfText(file: string, bytes: Uint8Array): Promise<string> {
  let pdf;
  try {
    // pdf.js takes ownership of the buffer it is given: a copy leaves the caller's bytes intact.
    pdf = await getDocumentProxy(bytes.slice(), { verbosity: 0, isEvalSupported: false });
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === "PasswordException") throw new ExtractionError(file, "is an encrypted pdf (upload it without a password)");
    throw new ExtractionError(file, `is not a readable pdf (${(error as Error).message})`);
  }
  try {
    const { text } = await extractText(pdf, { mergePages: false });
    return text.join("\n\n");
  } catch (error) {
    throw new ExtractionError(file, `is not a readable pdf (${(error as Error).message})`);
  } finally {
    await pdf.destroy();
  }
}

/** The most a docx may declare its parts unzip to: mammoth inflates parts whole, in memory. */
export const MAX_DOCX_UNZIPPED_BYTES = 256 * 1024 * 1024;

/**
 * What a zip's central directory says its entries unzip to, or undefined when it has none (then it is no zip, and
 * mammoth says so). A Zip64 size counts as too large. Only the declared sizes: JSZip checks them after inflating.
 */
export function declaredUnzippedBytes(bytes: Uint8Array): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = -1;
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 0xffff); at--) {
    if (view.getUint32(at, true) === 0x06054b50) {
      end = at;
      break;
    }
  }
  if (end < 0) return undefined;
  const entries = view.getUint16(end + 10, true);
  let at = view.getUint32(end + 16, true);
  let total = 0;
  for (let i = 0; i < entries && at + 46 <= bytes.length; i++) {
    if (view.getUint32(at, true) !== 0x02014b50) break;
    const size = view.getUint32(at + 24, true);
    total += size === 0xffffffff ? Infinity : size;
    at += 46 + view.getUint16(at + 28, true) + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  return total;
}

async function docxText(file: string, bytes: Uint8Array): Promise<string> {
  const unzipped = declaredUnzippedBytes(bytes);
  if (unzipped !== undefined && unzipped > MAX_DOCX_UNZIPPED_BYTES) {
    throw new ExtractionError(file, `unzips to ${unzipped} bytes, more than the ${MAX_DOCX_UNZIPPED_BYTES} a docx may (a zip bomb?)`);
  }
  try {
    const { value } = await mammoth.extractRawText({ buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
    return value;
  } catch (error) {
    throw new ExtractionError(file, `is not a readable docx (${(error as Error).message})`);
  }
}

function htmlText(html: string): string {
  const plain = { options: { uppercase: false } };
  return convert(html, {
    wordwrap: false,
    selectors: [
      { selector: "a", options: { ignoreHref: true } },
      { selector: "img", format: "skip" },
      ...["h1", "h2", "h3", "h4", "h5", "h6"].map((selector) => ({ selector, ...plain })),
      { selector: "table", options: { uppercaseHeaderCells: false } },
    ],
  });
}

/** The text of `bytes`, a file named `file` of a type `fileType` accepted. */
export async function extract(file: string, type: string, bytes: Uint8Array): Promise<string> {
  switch (type) {
    case "pdf":
      return pdfText(file, bytes);
    case "docx":
      return docxText(file, bytes);
    case "html":
    case "htm":
      return htmlText(decodeText(file, bytes));
    case "json": {
      let value: unknown;
      try {
        value = JSON.parse(decodeText(file, bytes));
      } catch (error) {
        if (error instanceof ExtractionError) throw error;
        throw new ExtractionError(file, `is not valid JSON (${(error as Error).message})`);
      }
      const lines: string[] = [];
      flattenJson(value, "", lines);
      return lines.join("\n");
    }
    default:
      return decodeText(file, bytes);
  }
}
