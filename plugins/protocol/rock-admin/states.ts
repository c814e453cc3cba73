/**
 * ROCK's sandbox states (archiving is not implemented), which event leads from where to where, and the statuses of a
 * start's phases: the admin moves records by them, the SDK waits on them. Plain values, no schema library, so that
 * the SDK can import them anywhere.
 */
export const sandboxStates = ["pending", "running", "stopped", "deleted"] as const;
export type SandboxState = (typeof sandboxStates)[number];

const transitions: Record<string, { from: SandboxState[]; to: SandboxState }> = {
  alive: { from: ["pending"], to: "running" },
  stop: { from: ["pending", "running"], to: "stopped" },
  // The instance died by itself (the rocklet exited, was killed, ran out of memory); the record keeps why.
  fail: { from: ["pending", "running"], to: "stopped" },
  restart: { from: ["stopped"], to: "pending" },
  delete: { from: ["stopped"], to: "deleted" },
};
export type SandboxEvent = keyof typeof transitions & string;

/** The state `event` leads to from `state`, or null when the event is not allowed there. */
export function nextState(state: SandboxState, event: SandboxEvent): SandboxState | null {
  const rule = transitions[event];
  return rule && rule.from.includes(state) ? rule.to : null;
}

export const isActive = (state: SandboxState) => state === "pending" || state === "running";

/** ROCK keeps the last 100 transitions. */
export const HISTORY_LIMIT = 100;

/** How far each phase of a start (`image_pull`, `docker_run`) got. */
export const phaseStatuses = ["waiting", "running", "success", "failed", "timeout"] as const;
export type PhaseState = (typeof phaseStatuses)[number];

/** A phase that ended the start: the sandbox will not come up. */
export const isFailedPhase = (status: string) => status === "failed" || status === "timeout";
