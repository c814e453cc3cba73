/** ROCK's sandbox states (archiving is not implemented) and which event leads from where to where. */
export type SandboxState = "pending" | "running" | "stopped" | "deleted";

export interface StateTransition {
  from_state: SandboxState;
  to_state: SandboxState;
  event: string;
  timestamp: string;
}

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
