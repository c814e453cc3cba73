/**
 * Errors the rocklet reports. `RockletError` becomes HTTP 511 `{"rockletexception": …}`; its `classPath` names the
 * Python exception ROCK's clients re-raise (unknown names degrade to their generic RockletException).
 * `HttpError` carries any other status with a ready JSON body (401, 404, 413, 422, 504).
 */

const ROCK = "rock.rocklet.exceptions.";

export class RockletError extends Error {
  constructor(
    message: string,
    readonly classPath: string,
    readonly extraInfo: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(typeof body === "object" && body && "detail" in body ? String((body as { detail: unknown }).detail) : "");
  }
}

export const rockletErrors = {
  sessionExists: (name: string) => new RockletError(`session ${name} already exists`, `${ROCK}SessionExistsError`),
  sessionMissing: (name: string) =>
    new RockletError(`session '${name}' does not exist`, `${ROCK}SessionDoesNotExistError`),
  sessionBusy: (name: string, why: string) => new RockletError(`session '${name}' ${why}`, `${ROCK}SessionBusyError`),
  sessionLimit: (name: string, max: number) =>
    new RockletError(
      `cannot create session '${name}': this sandbox already has ${max} open sessions, its limit (rocklet --max-sessions); close one first`,
      "builtins.RuntimeError",
    ),
  sessionStartup: (message: string, output = "") =>
    new RockletError(message, `${ROCK}DeploymentStartupError`, { output }),
  nonZeroExit: (message: string) => new RockletError(message, `${ROCK}NonZeroExitCodeError`),
  syntax: (message: string, stdout: string, stderr: string) =>
    new RockletError(message, `${ROCK}BashIncorrectSyntaxError`, { bash_stdout: stdout, bash_stderr: stderr }),
  valueError: (message: string) => new RockletError(message, "builtins.ValueError"),
  lookupError: (message: string) => new RockletError(message, "builtins.LookupError"),
  unicodeDecode: (message: string) => new RockletError(message, "builtins.UnicodeDecodeError"),
};

/** The 511 body; the traceback stays empty so that no server-side paths leak to clients. */
export function rockletExceptionBody(error: RockletError) {
  return {
    rockletexception: {
      message: error.message,
      class_path: error.classPath,
      traceback: "",
      extra_info: error.extraInfo,
    },
  };
}
