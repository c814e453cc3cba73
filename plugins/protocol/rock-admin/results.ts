/**
 * What ROCK's admin routes answer (§1.2, §1.6): the envelope `{status, message, error, result}` and each route's
 * `result`. The admin declares them as its routes' response schemas; the SDK's result types are derived from them.
 */
import { Type } from "@sinclair/typebox";
import { t, type Static, type TSchema } from "elysia";
import { OneOf, Reply } from "../responses.ts";
import { phaseStatuses, sandboxStates } from "./states.ts";

// TypeBox's own Integer: Elysia's `t.Integer` is a transform, which Elysia would run on every answer.
const Integer = Type.Integer;

export const SandboxStateSchema = OneOf(sandboxStates);

/** The `result` of a Failed envelope; a command's failure (code 6000) adds what it printed (stdout, stderr, output). */
export const Failure = Reply({
  code: Integer({ description: "4000: the caller's fault; 5000: the server's; 6000: the command's" }),
  exit_code: t.Nullable(t.Number()),
  failure_reason: t.String(),
});
export type Failure = Static<typeof Failure>;

/** Any failure: the route's fixed text in `message` ("invalid parameter" for a request that fails its schema). */
export const Failed = Reply({ status: t.Literal("Failed"), message: t.String(), error: t.String(), result: Failure });
export type Failed = Static<typeof Failed>;

export const Succeeded = <T extends TSchema>(result: T) => Reply({ status: t.Literal("Success"), message: t.Nullable(t.String()), error: t.Null(), result });

/** HTTP 200 with Success and the route's result, or with Failed (ROCK's business errors and invalid parameters). */
export const Envelope = <T extends TSchema>(result: T) => t.Union([Succeeded(result), Failed]);
export type Envelope<T> = { status: "Success"; message: string | null; error: null; result: T } | Failed;

/** A route's answers: the envelope, and Failed with an HTTP error status (token, request limits, unknown route). */
export const answers = <T extends TSchema>(result: T) => ({ 200: Envelope(result), "4XX": Failed, "5XX": Failed });

export const StartResult = Reply({
  code: Integer({ description: "2000" }),
  exit_code: t.Null(),
  failure_reason: t.Null(),
  sandbox_id: t.String(),
  // Null until the sandbox is placed (start_async answers before).
  host_name: t.Nullable(t.String()),
  host_ip: t.Nullable(t.String()),
  cpus: t.Number(),
  memory: t.String(),
  disk: t.Nullable(t.String()),
  disk_limit_rootfs: t.Nullable(t.String({ description: "= disk (deprecated in ROCK)" })),
});
export type StartResult = Static<typeof StartResult>;

export const PhaseStatus = Reply({ status: OneOf(phaseStatuses), message: t.String() });
export type PhaseStatus = Static<typeof PhaseStatus>;

export const StateTransition = Reply({ from_state: SandboxStateSchema, to_state: SandboxStateSchema, event: t.String(), timestamp: t.String() });
export type StateTransition = Static<typeof StateTransition>;

export const SandboxStatus = Reply({
  sandbox_id: t.String(),
  status: Reply({ image_pull: PhaseStatus, docker_run: PhaseStatus }),
  state: SandboxStateSchema,
  port_mapping: t.Record(t.String(), t.Number(), { description: "Sandbox port → host port" }),
  host_name: t.Nullable(t.String()),
  host_ip: t.Nullable(t.String()),
  is_alive: t.Boolean(),
  image: t.String(),
  user_id: t.String(),
  experiment_id: t.String(),
  namespace: t.String(),
  cpus: t.Number(),
  memory: t.String(),
  disk: t.Nullable(t.String()),
  disk_limit_rootfs: t.Nullable(t.String()),
  create_time: t.String(),
  start_time: t.Nullable(t.String()),
  stop_time: t.Nullable(t.String()),
  delete_time: t.Nullable(t.String()),
  auto_stop_time: t.Nullable(t.String()),
  state_history: t.Array(StateTransition),
  // Not in ROCK (pydantic clients ignore extra keys).
  isolation: t.Optional(t.String({ description: 'How the deployment confines the sandbox: "bubblewrap", or "none" for a bare local process' })),
  placement: t.Optional(t.Record(t.String(), t.String(), { description: "The node labels the start asked for (its `placement`)" })),
});
export type SandboxStatus = Static<typeof SandboxStatus>;

export const SandboxList = Reply({ items: t.Array(SandboxStatus), total: Integer(), has_more: t.Boolean() });
export type SandboxList = Static<typeof SandboxList>;

export const BatchStatuses = Reply({ statuses: t.Array(SandboxStatus) });
export type BatchStatuses = Static<typeof BatchStatuses>;

export const IsAlive = Reply({ is_alive: t.Boolean(), message: t.String({ description: "The host name when alive" }) });
export type IsAlive = Static<typeof IsAlive>;

const Percent = t.Optional(t.Nullable(t.Number()));
export const Statistics = Reply({ cpu: Percent, mem: Percent, disk: Percent, disk_log_percent: Percent, disk_dind_percent: Percent, net: t.Optional(t.Nullable(t.Number({ description: "Bytes received and sent" }))) });
export type Statistics = Static<typeof Statistics>;

export const CommandResponse = Reply({ stdout: t.String(), stderr: t.String(), exit_code: t.Number() });
export type CommandResponse = Static<typeof CommandResponse>;

export const SessionCreated = Reply({ output: t.String(), session_type: t.Literal("bash") });
export type SessionCreated = Static<typeof SessionCreated>;

/** ROCK's BashObservation, as the rocklet answers it. */
export const Observation = Reply({
  output: t.String(),
  exit_code: t.Nullable(t.Number()),
  failure_reason: t.String(),
  expect_string: t.String(),
  session_type: t.Literal("bash"),
});
export type Observation = Static<typeof Observation>;

export const SessionClosed = Reply({ session_type: t.Literal("bash") });
export type SessionClosed = Static<typeof SessionClosed>;

export const FileContent = Reply({ content: t.String() });
export type FileContent = Static<typeof FileContent>;

export const Written = Reply({ success: t.Boolean(), message: t.String() });
export type Written = Static<typeof Written>;

export const Uploaded = Reply({ success: t.Boolean(), message: t.String(), file_name: t.String() });
export type Uploaded = Static<typeof Uploaded>;

export const Hello = Reply({ message: t.String() });
export type Hello = Static<typeof Hello>;
