/**
 * Size limits of a request, checked by the kernel so that each service answers an oversized request in its own error
 * shape (Bun's own 413 and 431 have an empty body), and a nesting limit for parsed JSON, whose deeper values overflow
 * the stack of code that walks them recursively (validation messages, JSON.stringify, our own helpers).
 */
import http from "node:http";
import { HttpError } from "../errors.ts";

export interface RequestLimits {
  /** Largest request body (`server.max_body_bytes`). */
  maxBodyBytes: number;
  /** Largest request line plus headers (`server.max_header_bytes`). */
  maxHeaderBytes: number;
  /** Deepest nesting of arrays and objects in a parsed body (`server.max_json_depth`). */
  maxJsonDepth: number;
}

export const defaultLimits: RequestLimits = { maxBodyBytes: 128 * 1024 ** 2, maxHeaderBytes: 16 * 1024, maxJsonDepth: 128 };

/** The limits from the kernel config's `server` section. */
export function requestLimits(server: { max_body_bytes: number; max_header_bytes: number; max_json_depth: number }): RequestLimits {
  return { maxBodyBytes: server.max_body_bytes, maxHeaderBytes: server.max_header_bytes, maxJsonDepth: server.max_json_depth };
}

/**
 * Bun rejects heads above `http.maxHeaderSize` itself, with an empty 431. It is raised well above our limit, so that
 * our check answers in the service's shape; only heads beyond the raised size still get Bun's bare answer.
 */
export function raiseTransportHeaderLimit(limits: RequestLimits): void {
  const wanted = Math.max(4 * limits.maxHeaderBytes, 1024 ** 2);
  if (http.maxHeaderSize < wanted) (http as { maxHeaderSize: number }).maxHeaderSize = wanted;
}

/** The error for a request whose head or declared body is above the limits, if it is. */
export function oversized(request: Request, limits: RequestLimits): HttpError | undefined {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limits.maxBodyBytes) {
    return new HttpError(413, `request body is ${declared} bytes, more than the limit of ${limits.maxBodyBytes} bytes (server.max_body_bytes)`, "body");
  }
  // The URL includes scheme and host, the head also has the method and version: close enough for a limit.
  let size = request.url.length;
  if (size > limits.maxHeaderBytes) {
    return new HttpError(414, `request target is ${size} bytes, more than the limit of ${limits.maxHeaderBytes} bytes (server.max_header_bytes)`);
  }
  request.headers.forEach((value, name) => {
    size += name.length + value.length + 4;
  });
  if (size > limits.maxHeaderBytes) {
    return new HttpError(431, `request line and headers are ${size} bytes, more than the limit of ${limits.maxHeaderBytes} bytes (server.max_header_bytes)`);
  }
  return undefined;
}

/**
 * A body sent without a length (chunked) as a stream that fails once more than `limit` bytes have arrived, with the
 * same error a declared length gets.
 */
export function boundedBody(body: ReadableStream<Uint8Array>, limit: number): ReadableStream<Uint8Array> {
  let received = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        received += chunk.byteLength;
        if (received > limit) controller.error(new HttpError(413, `request body is more than the limit of ${limit} bytes (server.max_body_bytes)`, "body"));
        else controller.enqueue(chunk);
      },
    }),
  );
}

/**
 * Prepares a parsed body (or query) for validation, in one walk: returns true when arrays and objects in `value` nest
 * more than `levels` deep (`{}` is one level, `[{}]` two). An object with its own `toString` or `valueOf` key (JSON
 * may have them) gets a hidden Symbol.toPrimitive: Elysia quotes a rejected value in a template string, which throws
 * a TypeError for such an object, and a 400 became a 500. Symbol keys are invisible to JSON, validation and handlers.
 */
export function preparedDeeperThan(value: unknown, levels: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (levels <= 0) return true;
  let children: unknown[];
  if (Array.isArray(value)) children = value;
  else {
    if (Object.hasOwn(value, "toString") || Object.hasOwn(value, "valueOf")) Object.defineProperty(value, Symbol.toPrimitive, { value: plainText });
    children = Object.values(value);
  }
  for (const child of children) if (typeof child === "object" && child !== null && preparedDeeperThan(child, levels - 1)) return true;
  return false;
}

function plainText(): string {
  return "[object Object]";
}

export function tooDeep(limit: number): HttpError {
  return new HttpError(400, `request body nests arrays and objects more than ${limit} levels deep (server.max_json_depth)`, "body");
}
