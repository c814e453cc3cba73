/**
 * Request models of ROCK's admin routes (§1.6), as TypeBox schemas: validation, types and OpenAPI at once (the answers
 * are in results.ts). Each is `lenient`, as ROCK's pydantic models are: an optional field accepts null, meaning absent.
 */
import { t, type Static } from "elysia";
import { lenient, lenientQuery } from "../../../core/http/lenient.ts";

/** ROCK's NonBlankStr: rejects "" and "   ". */
export const NonBlank = t.String({ minLength: 1, pattern: "\\S" });
const SandboxId = { sandbox_id: NonBlank };

/** A start's `placement`: at most this many node labels. */
export const MAX_PLACEMENT_LABELS = 8;
/** A placement label's name and value: text a Swarm constraint carries as it is. */
export const PLACEMENT_TEXT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export const StartRequest = lenient(t.Object({
  image: NonBlank,
  sandbox_id: t.Optional(t.Nullable(NonBlank)),
  image_os: t.Optional(t.String()),
  // ROCK takes whole minutes; fractions are accepted too (short-lived sandboxes in tests).
  auto_clear_time_minutes: t.Optional(t.Number({ exclusiveMinimum: 0 })),
  pull: t.Optional(t.Union([t.Literal("never"), t.Literal("missing"), t.Literal("always")])),
  memory: t.Optional(NonBlank),
  cpus: t.Optional(t.Number({ exclusiveMinimum: 0 })),
  disk: t.Optional(t.String()),
  startup_timeout: t.Optional(t.Nullable(t.Number())),
  // Not in ROCK (its pydantic model ignores unknown fields, so its SDK may send it): node labels the sandbox must run
  // on, e.g. {"zone": "b"}; only an operator that places on several nodes takes it. The names and values are checked
  // at start (a key pattern here would have the body's unknown keys dropped instead of refused).
  placement: t.Optional(t.Record(t.String(), t.String(), {
    maxProperties: MAX_PLACEMENT_LABELS,
    description: `Node labels the sandbox must run on, e.g. {"zone": "b"}: names and values of 1-63 letters, digits, '.', '_' or '-'`,
  })),
}));
export type StartRequest = Static<typeof StartRequest>;

/** ROCK's `/warmup/tasks`: make every host hold the image. */
export const Warmup = lenient(t.Object({ image: NonBlank }));

export const IdOnly = lenient(t.Object(SandboxId));
export type IdOnly = Static<typeof IdOnly>;

export const Command = lenient(t.Object({
  ...SandboxId,
  command: t.Union([NonBlank, t.Array(t.String(), { minItems: 1 })]),
  timeout: t.Optional(t.Nullable(t.Number({ exclusiveMinimum: 0 }))),
  shell: t.Optional(t.Boolean()),
  check: t.Optional(t.Boolean()),
  error_msg: t.Optional(t.String()),
  env: t.Optional(t.Nullable(t.Record(t.String(), t.String()))),
  cwd: t.Optional(t.Nullable(t.String())),
}));
export type Command = Static<typeof Command>;

export const CreateSession = lenient(t.Object({
  ...SandboxId,
  session: t.Optional(NonBlank),
  startup_source: t.Optional(t.Array(t.String())),
  env_enable: t.Optional(t.Boolean()),
  env: t.Optional(t.Nullable(t.Record(t.String(), t.String()))),
  remote_user: t.Optional(t.Nullable(t.String())),
  startup_timeout: t.Optional(t.Number({ exclusiveMinimum: 0 })),
  max_read_size: t.Optional(t.Integer({ minimum: 1 })),
  session_type: t.Optional(t.Literal("bash")),
}));
export type CreateSession = Static<typeof CreateSession>;

export const BashAction = lenient(t.Object({
  ...SandboxId,
  command: t.String(),
  session: t.Optional(NonBlank),
  timeout: t.Optional(t.Nullable(t.Number({ exclusiveMinimum: 0 }))),
  check: t.Optional(t.Union([t.Literal("silent"), t.Literal("raise"), t.Literal("ignore")])),
  is_interactive_command: t.Optional(t.Boolean()),
  is_interactive_quit: t.Optional(t.Boolean()),
  error_msg: t.Optional(t.String()),
  expect: t.Optional(t.Array(t.String())),
  action_type: t.Optional(t.Literal("bash")),
}));
export type BashAction = Static<typeof BashAction>;

export const CloseSession = lenient(t.Object({ ...SandboxId, session: t.Optional(NonBlank), session_type: t.Optional(t.Literal("bash")) }));
export type CloseSession = Static<typeof CloseSession>;

export const ReadFile = lenient(t.Object({ ...SandboxId, path: NonBlank, encoding: t.Optional(t.Nullable(t.String())), errors: t.Optional(t.Nullable(t.String())) }));
export type ReadFile = Static<typeof ReadFile>;

export const WriteFile = lenient(t.Object({ ...SandboxId, path: NonBlank, content: t.String() }));
export type WriteFile = Static<typeof WriteFile>;

export const Upload = lenient(t.Object({ ...SandboxId, file: t.File(), target_path: NonBlank }));

/** `include_all_states` as ROCK's Python SDK sends it (`True`) or the TypeScript SDK (`true`). */
export const StatusQuery = lenientQuery(t.Object({ ...SandboxId, include_all_states: t.Optional(t.Boolean()) }));

/** ROCK's SDKs ask for object-storage credentials before an upload (`account=primary` from SDK 1.8 on). */
export const TokenQuery = lenientQuery(t.Object({ account: t.Optional(t.String({ description: "legacy (default) or primary" })) }));

export const BatchStatus = lenient(t.Object({ sandbox_ids: t.Array(t.String(), { maxItems: 2000 }) }));
export type BatchStatus = Static<typeof BatchStatus>;

export const RestartParams = t.Object({ sandbox_id: t.String() });

const Filter = t.Optional(t.String());
/** The exact-match filters of a sandbox list: fields of a live sandbox, never its rocklet's address or token. */
export const ListFilters = t.Object({ sandbox_id: Filter, state: Filter, image: Filter, user_id: Filter, experiment_id: Filter, namespace: Filter, host_ip: Filter, host_name: Filter });

/** Other fields reach the route, which refuses them naming the filters. */
export const ListQuery = lenientQuery(
  t.Object(
    {
      page: t.Optional(t.String({ description: "A positive integer (default 1)" })),
      page_size: t.Optional(t.String({ description: "An integer from 1 to 2000 (default 500)" })),
      ...ListFilters.properties,
    },
    { additionalProperties: t.Unknown() },
  ),
);
