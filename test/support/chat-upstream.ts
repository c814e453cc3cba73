/**
 * An OpenAI-compatible chat model on loopback for kernel tests: it records every body POSTed to it, answers a GET
 * (the model list) with no models, and streams the text the test's `answer` writes as chat completion chunks.
 */

export interface ChatUpstream {
  port: number;
  /** The bodies of the chat requests, in order. */
  received: any[];
  /** The `openai` plugin's section (indented two spaces, no final newline) for this upstream: prompt path, model `scripted`, no retries. */
  openaiYaml: string;
  stop(): void;
}

/** The model's text for a request body, or a whole Response for the cases a test shapes itself. */
export type ChatAnswer = (body: any) => string | Response;

/** SSE frames carrying `text` as content deltas of at most `pieceChars` characters each, without the end. */
export function contentFrames(text: string, pieceChars = Number.POSITIVE_INFINITY): string {
  const pieces = Number.isFinite(pieceChars) ? (text.match(new RegExp(`[\\s\\S]{1,${pieceChars}}`, "g")) ?? []) : [text];
  return pieces.map((piece) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] })}\n\n`).join("");
}

/** The end of a stream: a frame with finish_reason `stop`, then `[DONE]`. */
export const streamEnd = `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\ndata: [DONE]\n\n`;

export function chatUpstream(answer: ChatAnswer, options: { pieceChars?: number } = {}): ChatUpstream {
  const received: any[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      if (request.method === "GET") return Response.json({ object: "list", data: [] });
      const body = await request.json();
      received.push(body);
      const reply = answer(body);
      if (reply instanceof Response) return reply;
      return new Response(contentFrames(reply, options.pieceChars) + streamEnd, { headers: { "content-type": "text/event-stream" } });
    },
  });
  return {
    port: server.port!,
    received,
    openaiYaml: `  openai:
    api_base: http://127.0.0.1:${server.port}/v1
    model: scripted
    supports_tools: false
    max_retries: 0`,
    stop: () => server.stop(true),
  };
}
