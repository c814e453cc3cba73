/** Errors the kernel raises. Each names what went wrong precisely enough to act on without a stack trace. */

/** A plugin used a capability it did not declare. */
export class PermissionDenied extends Error {
  constructor(
    readonly plugin: string,
    readonly permission: string,
    detail?: string,
  ) {
    super(`PermissionDenied: plugin '${plugin}' has no permission ${permission}${detail ? ` (${detail})` : ""}`);
    this.name = "PermissionDenied";
  }
}

/** A configuration file or value is wrong: names the file, the field path and what was expected. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    readonly expected: string,
  ) {
    super(`${file}: ${field ? `${field}: ` : ""}${expected}`);
    this.name = "ConfigError";
  }
}

/** A plugin folder or its manifest is unusable. */
export class PluginError extends Error {
  constructor(
    readonly plugin: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`plugin '${plugin}': ${message}`, options);
    this.name = "PluginError";
  }
}

/** A server could not open its port because another socket (often a running instance) holds it. */
export class PortInUse extends Error {
  constructor(
    readonly service: string,
    readonly host: string,
    readonly port: number,
  ) {
    super(`${service}: port ${port} on ${host} is already in use`);
    this.name = "PortInUse";
  }
}

/**
 * Something a service needs outside its process (the store, a container engine) does not answer now. The HTTP host
 * answers it with 503 in the service's own error shape, so that the client knows to retry later.
 */
export class Unavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "Unavailable";
  }
}

/**
 * The hot-state store could not answer within its bound (`store.timeout_ms`): Redis is down, unreachable or hung.
 * Nothing waits for the store to come back.
 */
export class StoreUnavailable extends Unavailable {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`store unavailable: ${detail}`, options);
    this.name = "StoreUnavailable";
  }
}

export const isAddressInUse = (error: unknown) => (error as { code?: unknown } | null)?.code === "EADDRINUSE";

/**
 * An error meant for an HTTP client: status and message are safe to show.
 * Anything else thrown in a route becomes a 500 with a generic message (the detail goes to the log only).
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export const badRequest = (message: string, field?: string) => new HttpError(400, message, field);
export const notFound = (message: string) => new HttpError(404, message);

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
