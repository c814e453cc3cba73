/**
 * Typed errors for ROCK's result codes: 4xxx the caller's fault (BadRequestRockError), 5xxx the server's
 * (InternalServerRockError, worth a retry), 6xxx the command's (CommandRockError). As in ROCK's SDK, command failures
 * of `execute` and `runInSession` are not raised: they come back as the observation with its exit code.
 */
export const rockCodes = { ok: 2000, badRequest: 4000, internal: 5000, command: 6000 } as const;

export interface RockErrorDetails {
  /** The route's fixed text from the envelope, e.g. "execute command failed". */
  routeMessage?: string | null;
  /** HTTP status when it was not 200. */
  httpStatus?: number;
  /** The envelope's `result`, when it had one. */
  result?: Record<string, unknown> | null;
}

export class RockError extends Error {
  readonly routeMessage: string | null;
  readonly httpStatus: number | undefined;
  readonly result: Record<string, unknown> | null;

  constructor(
    readonly code: number,
    message: string,
    details: RockErrorDetails = {},
  ) {
    super(message);
    this.name = "RockError";
    this.routeMessage = details.routeMessage ?? null;
    this.httpStatus = details.httpStatus;
    this.result = details.result ?? null;
  }
}

export class BadRequestRockError extends RockError {
  constructor(message: string, details: RockErrorDetails = {}, code: number = rockCodes.badRequest) {
    super(code, message, details);
    this.name = "BadRequestRockError";
  }
}

/** The admin refused the bearer token (HTTP 401). */
export class AuthenticationRockError extends BadRequestRockError {
  constructor(message: string, details: RockErrorDetails = {}) {
    super(message, details);
    this.name = "AuthenticationRockError";
  }
}

export class InternalServerRockError extends RockError {
  constructor(message: string, details: RockErrorDetails = {}, code: number = rockCodes.internal) {
    super(code, message, details);
    this.name = "InternalServerRockError";
  }
}

/** The admin could not be reached or answered something that is not ROCK's envelope. */
export class ConnectionRockError extends InternalServerRockError {
  constructor(message: string, details: RockErrorDetails = {}) {
    super(message, details);
    this.name = "ConnectionRockError";
  }
}

export class CommandRockError extends RockError {
  constructor(message: string, details: RockErrorDetails = {}, code: number = rockCodes.command) {
    super(code, message, details);
    this.name = "CommandRockError";
  }
}

/** A sandbox did not become alive: it failed, was stopped, or the bounded wait ran out. */
export class SandboxStartError extends InternalServerRockError {
  constructor(
    message: string,
    readonly sandboxId: string,
    readonly lastState: string | null,
  ) {
    super(message);
    this.name = "SandboxStartError";
  }
}

/** The error class for a code, by its range (4xxx, 5xxx, 6xxx); unknown ranges count as internal. */
export function errorForCode(code: number, message: string, details: RockErrorDetails = {}): RockError {
  if (code >= 4000 && code < 5000) return new BadRequestRockError(message, details, code);
  if (code >= 6000 && code < 7000) return new CommandRockError(message, details, code);
  return new InternalServerRockError(message, details, code >= 5000 && code < 6000 ? code : rockCodes.internal);
}
