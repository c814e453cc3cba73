/** Wire shapes of ROCK's admin API (`/apis/envs/sandbox/v1`), as the SDK returns them. */

export type SandboxState = "pending" | "running" | "stopped" | "deleted" | (string & {});

export interface Envelope<T> {
  status: "Success" | "Failed";
  message: string | null;
  error: string | null;
  result: T | null;
}

/** The body of start and start_async, as the admin's own schema defines it. */
export type { StartRequest } from "../../protocol/rock-admin/schemas.ts";

/** Who starts the sandbox: sent as X-User-Id, X-Experiment-Id, X-Namespace. */
export interface StartIdentity {
  userId?: string;
  experimentId?: string;
  namespace?: string;
}

export interface StartResult {
  code: number;
  sandbox_id: string;
  host_name: string;
  host_ip: string;
  cpus: number;
  memory: string;
  disk: string | null;
}

export interface PhaseStatus {
  status: "waiting" | "running" | "success" | "failed" | "timeout" | (string & {});
  message: string;
}

export interface StateTransition {
  from_state: SandboxState;
  to_state: SandboxState;
  event: string;
  timestamp: string;
}

export interface SandboxStatus {
  sandbox_id: string;
  status: Record<string, PhaseStatus>;
  state: SandboxState;
  port_mapping: Record<string, number>;
  host_name: string;
  host_ip: string;
  is_alive: boolean;
  image: string;
  user_id: string;
  experiment_id: string;
  namespace: string;
  cpus: number;
  memory: string;
  disk: string | null;
  create_time: string;
  start_time: string | null;
  stop_time: string | null;
  delete_time: string | null;
  auto_stop_time: string | null;
  state_history: StateTransition[];
  /** Not in ROCK: how the deployment confines the sandbox ("bubblewrap", "none" for a bare local process), when it says. */
  isolation?: string;
}

export interface SandboxList {
  items: SandboxStatus[];
  total: number;
  has_more: boolean;
}

export interface ListQuery {
  page?: number;
  page_size?: number;
  /** Exact-match filters: user_id, experiment_id, namespace, image, state, … */
  filters?: Record<string, string>;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  /** -1 when the command could not finish (e.g. it timed out); see `failure_reason`. */
  exit_code: number;
  failure_reason?: string;
}

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
  check?: "silent" | "raise" | "ignore";
  expect?: string[];
}

export interface Observation {
  output: string;
  exit_code: number | null;
  failure_reason: string;
  expect_string: string;
  session_type: "bash";
}

export interface UploadResult {
  success: boolean;
  message: string;
  file_name: string;
}

export interface UploadOptions {
  /** Extract the uploaded zip into `targetPath` (a directory), with `unzip` inside the sandbox. */
  unzip?: boolean;
  /** Name sent for the file part (default: the source's base name, or "upload"). */
  fileName?: string;
  /** With `unzip`: the sandbox directory the zip waits in until it is extracted, then removed (default `/tmp`). */
  stagingDir?: string;
}
