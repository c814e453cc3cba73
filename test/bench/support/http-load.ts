/**
 * A light HTTP/1.1 load generator: `concurrency` keep-alive sockets, each sending the same POST again as soon as the
 * previous answer is complete. It times the first response byte, the first byte of `marker` (e.g. the first content
 * of a stream) and the whole response. A fetch-based client spends about as much CPU per request as the server being
 * measured; this one spends a fraction of it, so on a small machine it leaves the cores to the servers.
 */
import type { Socket } from "bun";

export interface LoadResult {
  /** Sorted milliseconds from writing the request to the response's first byte. */
  firstByte: number[];
  /** Sorted milliseconds to the first occurrence of the marker (or to the end when it never came). */
  marker: number[];
  /** Sorted milliseconds to the end of the response. */
  total: number[];
  /** Responses whose status was not 2xx. */
  failed: number;
}

interface Pending {
  began: number;
  firstByte: number;
  marker: number;
  /** Response bytes so far, as latin1 text (enough to find ASCII markers and framing). */
  received: string;
  /** Where the body starts, once the headers are in. */
  bodyAt: number;
  contentLength: number;
  chunked: boolean;
}

export async function runLoad(options: { url: string; body: string; concurrency: number; requests: number; marker?: string }): Promise<LoadResult> {
  const url = new URL(options.url);
  const payload = Buffer.from(options.body);
  const head = `POST ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\ncontent-length: ${payload.length}\r\n\r\n`;
  const request = Buffer.concat([Buffer.from(head), payload]);
  const marker = options.marker;
  const result: LoadResult = { firstByte: [], marker: [], total: [], failed: 0 };
  let started = 0;
  let finished = 0;
  let done!: () => void;
  let fail!: (error: Error) => void;
  const allDone = new Promise<void>((resolve, reject) => ((done = resolve), (fail = reject)));

  const send = (socket: Socket<Pending>): void => {
    if (started >= options.requests) {
      socket.end();
      return;
    }
    started++;
    socket.data = { began: performance.now(), firstByte: 0, marker: 0, received: "", bodyAt: -1, contentLength: -1, chunked: false };
    socket.write(request);
  };

  const complete = (p: Pending): boolean => {
    if (p.bodyAt < 0) {
      const end = p.received.indexOf("\r\n\r\n");
      if (end < 0) return false;
      p.bodyAt = end + 4;
      const headers = p.received.slice(0, end).toLowerCase();
      const length = /\r\ncontent-length:\s*(\d+)/.exec(headers);
      p.contentLength = length ? Number(length[1]) : -1;
      p.chunked = /\r\ntransfer-encoding:\s*chunked/.test(headers);
      if (!/^http\/1\.1 2/.test(headers)) result.failed++;
    }
    if (p.contentLength >= 0) return p.received.length - p.bodyAt >= p.contentLength;
    return p.chunked && p.received.endsWith("\r\n0\r\n\r\n");
  };

  const sockets = await Promise.all(
    Array.from({ length: options.concurrency }, () =>
      Bun.connect<Pending>({
        hostname: url.hostname,
        port: Number(url.port),
        socket: {
          open: send,
          data(socket, bytes) {
            const p = socket.data;
            const now = performance.now();
            if (!p.firstByte) p.firstByte = now;
            p.received += bytes.toString("latin1");
            if (marker && !p.marker && p.received.includes(marker, p.bodyAt < 0 ? 0 : p.bodyAt)) p.marker = now;
            if (!complete(p)) return;
            result.firstByte.push(p.firstByte - p.began);
            result.marker.push((p.marker || now) - p.began);
            result.total.push(now - p.began);
            if (++finished === options.requests) done();
            else send(socket);
          },
          error: (_socket, error) => fail(error),
          close() {
            if (finished < options.requests && started < options.requests) fail(new Error("the server closed a connection"));
          },
        },
      }),
    ),
  );
  await allDone;
  for (const socket of sockets) socket.end();
  for (const list of [result.firstByte, result.marker, result.total]) list.sort((a, b) => a - b);
  return result;
}
