/**
 * JSON replies of the service. Errors carry ROCK's FastAPI `detail` and OpenAI's `error` object, so that both ROCK's
 * tools and the openai SDKs show the message.
 */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

export function errorReply(status: number, message: string, type: string): Response {
  return json({ detail: message, error: { message, type, code: type } }, status);
}

export const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };
