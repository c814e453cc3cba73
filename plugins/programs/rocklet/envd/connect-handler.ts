/**
 * envd's server-streaming RPCs (process Start and Connect, WatchDir) in their plain Connect shape, served without the
 * library's generic pipeline: `commands.run` is one Start, and the ten async-iterable stages that `createFetchHandler`
 * puts around every message cost the rocklet 1-1.5 ms of CPU per command, more than spawning the command. The
 * pieces are still Connect's and protobuf-es's (content type, timeout, handler context, serialization, envelopes, the
 * end-of-stream message), in the order the library's Connect handler uses them. Any other shape (compression, a bad
 * timeout, a body that is not exactly one message) goes to the library's handler, which answers it as before.
 */
import { create, type DescMethodServerStreaming, isMessage } from "@bufbuild/protobuf";
import { Code, ConnectError, createHandlerContext, type HandlerContext } from "@connectrpc/connect";
import { createMethodSerializationLookup, encodeEnvelope, getJsonOptions, validateReadWriteMaxBytes } from "@connectrpc/connect/protocol";
import {
  contentTypeStreamJson,
  contentTypeStreamProto,
  createEndStreamSerialization,
  endStreamFlag,
  parseContentType,
  parseTimeout,
} from "@connectrpc/connect/protocol-connect";

type Fetch = (request: Request) => Promise<Response>;
type StreamImpl = (request: any, context: HandlerContext) => AsyncIterable<any>;

export function serverStreamHandler(method: DescMethodServerStreaming, impl: StreamImpl, general: Fetch): Fetch {
  const { readMaxBytes, writeMaxBytes } = validateReadWriteMaxBytes(undefined, undefined, undefined);
  const serialization = createMethodSerializationLookup(method, undefined, undefined, { readMaxBytes, writeMaxBytes });
  const endStream = createEndStreamSerialization(getJsonOptions(undefined));
  return async (request) => {
    const type = parseContentType(request.headers.get("content-type"));
    const timeout = parseTimeout(request.headers.get("connect-timeout-ms"), Number.MAX_SAFE_INTEGER);
    const encoding = request.headers.get("connect-content-encoding");
    if (request.method !== "POST" || !type?.stream || timeout.error || (encoding !== null && encoding !== "identity")) return general(request);
    const body = await request.bytes();
    let input: unknown;
    try {
      const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
      if (body.length < 5 || body[0] !== 0 || view.getUint32(1) !== body.length - 5) throw new Error("not one message");
      input = serialization.getI(type.binary).parse(body.subarray(5));
    } catch {
      return general(new Request(request.url, { method: request.method, headers: request.headers, body, signal: request.signal }));
    }
    const context = createHandlerContext({
      service: method.parent,
      method,
      protocolName: "connect",
      requestMethod: request.method,
      timeoutMs: timeout.timeoutMs,
      requestSignal: request.signal,
      requestHeader: request.headers,
      url: request.url,
      responseHeader: { "content-type": type.binary ? contentTypeStreamProto : contentTypeStreamJson },
    });
    const output = serialization.getO(type.binary);
    async function* frames(): AsyncGenerator<Uint8Array> {
      let error: ConnectError | undefined;
      try {
        for await (const message of impl(input, context)) {
          yield encodeEnvelope(0, output.serialize(isMessage(message, method.output) ? message : create(method.output, message)));
        }
      } catch (e) {
        error = e instanceof ConnectError ? e : new ConnectError("internal error", Code.Internal, undefined, undefined, e);
      } finally {
        context.abort(error);
      }
      yield encodeEnvelope(endStreamFlag, endStream.serialize({ metadata: context.responseTrailer, error }));
    }
    return new Response(directStream(frames()), { status: 200, headers: context.responseHeader });
  };
}

const PENDING = Symbol("pending");

/** The promise's value if it settles before the event loop turns (it needed no I/O), else PENDING. */
function soon<T>(promise: Promise<T>): Promise<T | typeof PENDING> {
  return Promise.race([promise, new Promise<typeof PENDING>((resolve) => setImmediate(resolve, PENDING))]);
}

/**
 * Bun's direct stream: the frames ready together (the last output, the end event, the end of the stream) go out in
 * one write; whenever the next frame is not ready yet, what was written is flushed, so output streams as it comes.
 */
function directStream(frames: AsyncGenerator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    type: "direct",
    async pull(controller) {
      try {
        let next = frames.next();
        for (;;) {
          let result = await soon(next);
          if (result === PENDING) {
            await controller.flush();
            result = await next;
          }
          if (result.done) break;
          controller.write(result.value);
          next = frames.next();
        }
      } catch {
        // The client went away mid-stream.
      } finally {
        // Ends the handler's generator if it is not done, so that its `finally` (unsubscribing) runs.
        void frames.return(undefined).catch(() => undefined);
        controller.close();
      }
    },
    cancel() {
      void frames.return(undefined).catch(() => undefined);
    },
  } satisfies Bun.DirectUnderlyingSource<Uint8Array>);
}
