/**
 * E2B's control plane (spec/openapi.yml of e2b-dev/E2B), as far as the admin serves it: the requests the official SDK
 * sends and the answers it reads. Unknown request fields (network, mcp, autoPause, …) are accepted and ignored, an
 * optional field sent as null is absent (`lenient`); the answers carry the fields the SDK maps into `SandboxInfo`.
 */
import { type Static, t } from "elysia";
import { lenient } from "../../../core/http/lenient.ts";

/** E2B's error body. */
export const E2bError = t.Object({ code: t.Integer(), message: t.String() });

const Metadata = t.Record(t.String(), t.String());

/** Longest sandbox timeout a create, connect or setTimeout may ask for (E2B's own maximum, 24 hours). */
export const MAX_TIMEOUT_SECONDS = 86_400;
const Timeout = t.Integer({ minimum: 0, maximum: MAX_TIMEOUT_SECONDS, description: "Seconds until the sandbox is stopped when idle" });

export const NewSandbox = lenient(t.Object(
  {
    templateID: t.String({ minLength: 1 }),
    timeout: t.Optional(Timeout),
    metadata: t.Optional(t.Nullable(Metadata)),
    envVars: t.Optional(t.Nullable(t.Record(t.String(), t.String()))),
    secure: t.Optional(t.Boolean()),
    autoPause: t.Optional(t.Boolean({ description: "Pause instead of kill at the timeout (`lifecycle.onTimeout: 'pause'`)" })),
    autoResume: t.Optional(t.Nullable(t.Object({ enabled: t.Boolean() }, { additionalProperties: true, description: "A data-plane call resumes the paused sandbox" }))),
  },
  { additionalProperties: true },
));
export type NewSandbox = Static<typeof NewSandbox>;

export const TimeoutBody = lenient(t.Object({ timeout: Timeout }, { additionalProperties: true }));
export const ConnectBody = lenient(t.Object({ timeout: t.Optional(Timeout) }, { additionalProperties: true }));
/** `memory: false` (E2B's filesystem-only snapshot) is accepted and served as a pause that keeps the memory. */
export const PauseBody = lenient(t.Object({ memory: t.Optional(t.Boolean()) }, { additionalProperties: true }));
export const SandboxParams = t.Object({ sandboxID: t.String({ minLength: 1 }) });

export const ListQuery = t.Object({
  metadata: t.Optional(t.String({ description: "URL-encoded key=value pairs, joined with &; every pair must match" })),
  state: t.Optional(t.String({ description: "Comma-separated states: running, paused" })),
  template: t.Optional(t.String()),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000 })),
  nextToken: t.Optional(t.String()),
});

/** The answer to create and connect: what the SDK needs to reach the sandbox's envd. */
export const Sandbox = t.Object({
  templateID: t.String(),
  sandboxID: t.String(),
  clientID: t.String(),
  envdVersion: t.String(),
  envdAccessToken: t.String(),
  domain: t.Null(),
}, { additionalProperties: true });
export type Sandbox = Static<typeof Sandbox>;

export const SandboxState = t.Union([t.Literal("running"), t.Literal("paused")]);

export const ListedSandbox = t.Object({
  templateID: t.String(),
  sandboxID: t.String(),
  clientID: t.String(),
  startedAt: t.String(),
  endAt: t.String(),
  cpuCount: t.Number(),
  memoryMB: t.Number(),
  diskSizeMB: t.Number(),
  metadata: Metadata,
  state: SandboxState,
  envdVersion: t.String(),
}, { additionalProperties: true });
export type ListedSandbox = Static<typeof ListedSandbox>;

export const SandboxDetail = t.Object(
  {
    ...ListedSandbox.properties,
    domain: t.Null(),
    /** What the timeout does (`autoPause` at create) and whether a call resumes a paused sandbox. */
    lifecycle: t.Object({ onTimeout: t.Union([t.Literal("kill"), t.Literal("pause")]), autoResume: t.Boolean() }, { additionalProperties: true }),
  },
  { additionalProperties: true },
);

/** The answer of DELETE and of setTimeout: 204, no body. */
export const NoContent = t.String({ maxLength: 0, description: "No content (HTTP 204)" });

/** What the data plane answers: envd's own (Connect RPC, REST /files), streamed from the sandbox. */
export const EnvdAnswer = t.Unknown({ description: "envd's answer, streamed from the sandbox's rocklet (see spec/envd of e2b-dev/E2B)" });

export const MetricsQuery = t.Object({
  start: t.Optional(t.Integer({ minimum: 0, description: "Unix seconds; ignored: the answer is the current sample" })),
  end: t.Optional(t.Integer({ minimum: 0, description: "Unix seconds; ignored: the answer is the current sample" })),
});

export const SandboxMetric = t.Object(
  {
    timestamp: t.String(),
    timestampUnix: t.Integer(),
    cpuCount: t.Integer(),
    cpuUsedPct: t.Number(),
    memUsed: t.Integer(),
    memTotal: t.Integer(),
    memCache: t.Integer(),
    diskUsed: t.Integer(),
    diskTotal: t.Integer(),
  },
  { additionalProperties: true },
);
