/** A tool manager call that failed: the HTTP status (none when the manager was unreachable) and its message. */
export class ToolServiceError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "ToolServiceError";
  }
}
