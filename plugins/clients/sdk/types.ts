/**
 * Wire shapes of ROCK's admin API (`/apis/envs/sandbox/v1`), as the SDK returns them: the admin's own request and
 * response schemas (plugins/protocol/rock-admin), as types only. The options are the SDK's own, in its casing.
 */
import type * as Results from "../../protocol/rock-admin/results.ts";
import type { BashAction } from "../../protocol/rock-admin/schemas.ts";
import type { Static } from "elysia";

export type { SandboxState } from "../../protocol/rock-admin/states.ts";

export type { Envelope, Observation, PhaseStatus, SandboxList, SandboxStatus, StartResult, StateTransition, Uploaded as UploadResult } from "../../protocol/rock-admin/results.ts";

/** The body of start and start_async, as the admin's own schema defines it. */
export type { StartRequest } from "../../protocol/rock-admin/schemas.ts";

/** Who starts the sandbox: sent as X-User-Id, X-Experiment-Id, X-Namespace. */
export interface StartIdentity {
  userId?: string;
  experimentId?: string;
  namespace?: string;
}

export interface ListQuery {
  page?: number;
  page_size?: number;
  /** Exact-match filters: user_id, experiment_id, namespace, image, state, … */
  filters?: Record<string, string>;
}

export type CommandResult = Results.CommandResponse & {
  /** Why the command could not finish (its exit_code is then -1, e.g. it timed out). */
  failure_reason?: string;
};

export interface ExecuteOptions {
  /** Seconds; the rocklet kills the command after it. */
  timeout?: number;
  cwd?: string;
  env?: Record<string, string>;
  /** Run a string command through the shell (default true for strings, false for argv arrays). */
  shell?: boolean;
}

export interface CreateSessionOptions {
  startupSource?: string[];
  envEnable?: boolean;
  env?: Record<string, string>;
  remoteUser?: string;
  startupTimeout?: number;
}

export interface RunInSessionOptions {
  session?: string;
  timeout?: number;
  /**
   * ROCK's check modes. The SDK defaults to "silent": a non-zero status comes back as `exit_code` instead of an
   * error ("raise" makes the rocklet fail the call, which the SDK then reports as an observation with exit_code -1).
   */
  check?: Static<typeof BashAction>["check"];
  expect?: string[];
}

export interface UploadOptions {
  /** Extract the uploaded zip into `targetPath` (a directory), with `unzip` inside the sandbox. */
  unzip?: boolean;
  /** Name sent for the file part (default: the source's base name, or "upload"). */
  fileName?: string;
  /** With `unzip`: the sandbox directory the zip waits in until it is extracted, then removed (default `/tmp`). */
  stagingDir?: string;
}
