/** Loopback upstreams for model-client tests: a Bun.serve on port 0 that records what it was sent. */
import type { ChatEvent } from "../../../core/kinds/model.ts";

export const SECRET_KEY = "sk-test-SECRET-0123456789abcdef";

export interface Received {
  method: string;
  path: string;
  headers: Headers;
  body: any;
}

export interface Loopback {
  base: string;
  host: string;
  received: Received[];
  stop(): void;
}

type Handler = (request: Received, attempt: number) => Response | Promise<Response>;

export function serveLoopback(handler: Handler): Loopback {
  const received: Received[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(request) {
      const text = await request.text();
      const entry: Received = {
        method: request.method,
        path: new URL(request.url).pathname,
        headers: request.headers,
        body: text ? JSON.parse(text) : undefined,
      };
      received.push(entry);
      return handler(entry, received.length);
    },
  });
  const host = `127.0.0.1:${server.port}`;
  return { base: `http://${host}`, host, received, stop: () => server.stop(true) };
}

const encoder = new TextEncoder();

/**
 * A streamed body. `firstDelayMs` holds back the first piece; a leading piece is sent at once anyway so
 * that headers go out (Bun waits for the first chunk before it answers).
 */
export function streamedBody(pieces: string[], opts: { delayMs?: number; firstDelayMs?: number; lead?: string } = {}): ReadableStream<Uint8Array> {
  return new ReadableStream({
    async start(controller) {
      try {
        if (opts.lead !== undefined) controller.enqueue(encoder.encode(opts.lead));
        if (opts.firstDelayMs) await Bun.sleep(opts.firstDelayMs);
        for (const piece of pieces) {
          controller.enqueue(encoder.encode(piece));
          if (opts.delayMs) await Bun.sleep(opts.delayMs);
        }
        controller.close();
      } catch {
        // the client went away
      }
    },
  });
}

export function sse(frames: unknown[], opts: { delayMs?: number; firstDelayMs?: number; lead?: string; done?: boolean } = {}): Response {
  const pieces = frames.map((f) => `data: ${typeof f === "string" ? f : JSON.stringify(f)}\n\n`);
  if (opts.done !== false) pieces.push("data: [DONE]\n\n");
  return new Response(streamedBody(pieces, opts), { headers: { "content-type": "text/event-stream" } });
}

export function ndjson(lines: unknown[], opts: { delayMs?: number; firstDelayMs?: number; lead?: string } = {}): Response {
  return new Response(
    streamedBody(
      lines.map((l) => `${JSON.stringify(l)}\n`),
      opts,
    ),
    { headers: { "content-type": "application/x-ndjson" } },
  );
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

/**
 * A raw TCP upstream that answers 200 with a chunked body, sends `pieces`, then drops the connection
 * without the terminating chunk: what a crashed or restarted upstream looks like mid-stream.
 */
export function serveCutStream(pieces: string[], contentType: string): { base: string; host: string; stop(): void } {
  const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
  const server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket) {
        socket.write(
          `HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\nTransfer-Encoding: chunked\r\n\r\n${pieces.map(chunk).join("")}`,
        );
        setTimeout(() => socket.end(), 20);
      },
    },
  });
  const host = `127.0.0.1:${server.port}`;
  return { base: `http://${host}`, host, stop: () => server.stop(true) };
}

/** A loopback port nothing listens on. */
export function refusedPort(): number {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = server.port as number;
  server.stop(true);
  return port;
}

export async function collect(events: AsyncIterable<ChatEvent>): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

/** Runs the stream to its end and returns what it threw (fails the test if it did not throw). */
export async function failure(events: AsyncIterable<ChatEvent>): Promise<Error & { status?: number; retryable?: boolean }> {
  try {
    await collect(events);
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the stream to fail");
}

export function textOf(events: ChatEvent[]): string {
  return events.map((e) => (e.type === "text" ? e.text : "")).join("");
}

/** Fast retries so that tests wait milliseconds, not seconds. */
export const fastRetries = { max_retries: 2, retry_base_delay_ms: 10, retry_max_delay_ms: 2_000 };
