/** Errors in OpenAI's shape, with the original server's `request_id`/`message` envelope fields beside them. */
import { HttpError } from "../../../core/errors.ts";
import { ModelError } from "../../../core/kinds/model.ts";

export function openAIErrorBody(e: { status: number; message: string; field?: string; requestId: string }) {
  const type = e.status === 401 ? "authentication_error" : e.status === 429 ? "rate_limit_error" : e.status >= 500 ? "server_error" : "invalid_request_error";
  return { request_id: e.requestId, message: e.message, error: { message: e.message, type, param: e.field ?? null, code: null } };
}

/** An upstream failure as the client should see it: who failed and how, never the key or a stack. */
export function upstreamFailure(backend: string, error: unknown): HttpError {
  if (error instanceof ModelError) {
    const status = error.status === 429 ? 429 : /timed out/.test(error.message) ? 504 : 502;
    return new HttpError(status, `upstream model '${backend}' failed: ${error.message}`);
  }
  return new HttpError(502, `upstream model '${backend}' failed: ${error instanceof Error ? error.message : String(error)}`);
}
