import { Unavailable } from "../../../core/errors.ts";

/** dockerode rejects with errors carrying the engine's HTTP status. */
export function hasStatus(error: unknown, ...statuses: number[]): boolean {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" && statuses.includes(status);
}

/** The engine's own message (`json.message`) rather than dockerode's "(HTTP code 404) no such image - ..." prefix. */
export function engineMessage(error: unknown): string {
  const json = (error as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === "string") return json.message;
  return error instanceof Error ? error.message : String(error);
}

/** The engine does not answer at all (stopped, restarting, its socket gone): a 503 in the service's own shape. */
export class EngineUnavailable extends Unavailable {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`Docker engine unavailable: ${detail}`, options);
    this.name = "EngineUnavailable";
  }
}

const connectionFailures = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT"]);

/** `error` as EngineUnavailable when it says the engine could not be reached (rather than refused a request), else as is. */
export function asEngineUnavailable(error: unknown): unknown {
  if (error instanceof Unavailable) return error;
  const { code, syscall, message } = (error ?? {}) as { code?: unknown; syscall?: unknown; message?: unknown };
  const unreachable = connectionFailures.has(String(code)) || (code === "ENOENT" && syscall === "connect") || /socket hang up/i.test(String(message));
  return unreachable ? new EngineUnavailable(String(message), { cause: error }) : error;
}
