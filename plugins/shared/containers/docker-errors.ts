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
