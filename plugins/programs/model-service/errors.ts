/** Errors the CLI reports as one clear line (exit code 2 for usage, 1 for the rest). */

/** A bad flag, environment variable or config field; the message names which. */
export class SettingsError extends Error {
  override name = "SettingsError";
}

/** The command cannot do what was asked (already running, not JSON, index out of range, …). */
export class CommandError extends Error {
  override name = "CommandError";
}
