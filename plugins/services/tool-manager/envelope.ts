/**
 * The original servers' envelope: success `{request_id, message: "", output}` with HTTP 200; errors
 * `{request_id, message}` with the error's status (there is no `output` key on errors).
 */
export function success(requestId: string, output: unknown, message = "") {
  return { request_id: requestId, message, output };
}

export function envelopeErrorBody(e: { status: number; message: string; requestId: string }) {
  return { request_id: e.requestId, message: e.message };
}
