/**
 * ROCK's response envelope `{status, message, error, result}`. Business errors are HTTP 200 with status "Failed" and
 * `result: {code, exit_code, failure_reason}`; codes 4000 (the client's fault), 5000 (ours), 6000 (the command's).
 */
import type { Envelope, Failed } from "../../protocol/rock-admin/results.ts";

export const codes = { badRequest: 4000, internal: 5000, command: 6000 } as const;
export type RockCode = (typeof codes)[keyof typeof codes];

export const success = <T>(result: T, message: string | null = null): Envelope<T> => ({ status: "Success", message, error: null, result });

/** A failure a route reports in the envelope; `extra` joins `code`, `exit_code` and `failure_reason` in `result`. */
export class RockFailure extends Error {
  constructor(
    readonly code: RockCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "RockFailure";
  }
}

export const badRequest = (message: string) => new RockFailure(codes.badRequest, message);
export const internalFailure = (message: string) => new RockFailure(codes.internal, message);

/** The envelope for an error thrown in a route: `routeMessage` is the fixed per-route text, as in ROCK. */
export function failed(routeMessage: string, error: unknown): Failed {
  if (error instanceof RockFailure) {
    return {
      status: "Failed",
      message: routeMessage,
      error: error.message,
      result: { code: error.code, exit_code: null, failure_reason: error.message, ...error.extra },
    };
  }
  const reason = error instanceof Error ? error.message : String(error);
  return { status: "Failed", message: routeMessage, error: reason, result: { code: codes.internal, exit_code: null, failure_reason: reason } };
}

/**
 * The kernel's errors (validation, parse, auth, unknown route) in the envelope; validation errors carry ROCK's message
 * "invalid parameter"; `envelopeErrorStatus` sends them with HTTP 200, as ROCK does.
 */
export function envelopeErrorBody(e: { status: number; message: string; field?: string }): unknown {
  if (e.status !== 400) return { status: "Failed", message: e.message, error: e.message, result: { code: e.status >= 500 ? codes.internal : codes.badRequest, exit_code: null, failure_reason: e.message } };
  // The kernel's text is "invalid body: <field>: <summary>"; ROCK's error is "<field>: <summary>".
  const error = e.message.replace(/^invalid [a-z]+: /, "");
  return { status: "Failed", message: "invalid parameter", error, result: { code: codes.badRequest, exit_code: null, failure_reason: error } };
}

/** ROCK answers invalid parameters with HTTP 200 and a Failed envelope; auth and routing errors keep their status. */
export const envelopeErrorStatus = (status: number) => (status === 400 ? 200 : status);
