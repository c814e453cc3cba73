import type { RunResult } from "./bash-session.ts";
import { rockletErrors } from "./errors.ts";
import { pythonRepr } from "../../protocol/python-repr.ts";
import type { BashAction } from "./requests.ts";
import type { Observation } from "../../protocol/rock-admin/results.ts";

/** ROCK's `BashObservation`, which the admin passes on as the result of run_in_session. */
export type BashObservation = Observation;

/**
 * Applies ROCK's `check` modes: `raise` turns a non-zero status into NonZeroExitCodeError, `ignore` reports no status,
 * `silent` reports it as is. Timeouts (exit_code -1 with a failure_reason) are always reported with their partial
 * output, never raised or hidden; interactive replies are never checked.
 */
export function toObservation(action: BashAction, run: RunResult): BashObservation {
  const observation: BashObservation = {
    session_type: "bash",
    output: run.output,
    exit_code: run.exitCode,
    failure_reason: run.failureReason,
    expect_string: run.expectString,
  };
  const timedOut = run.exitCode === -1 && run.failureReason !== "";
  if (timedOut || run.interactive) return observation;
  if (action.check === "ignore") return { ...observation, exit_code: null };
  if (action.check === "raise" && run.exitCode !== 0) {
    let message =
      `Command ${pythonRepr(action.command)} failed with exit code ${run.exitCode}. ` +
      `Here is the output:\n${pythonRepr(run.output)}`;
    if (run.failureReason) message += `\n${run.failureReason}`;
    throw rockletErrors.nonZeroExit(action.errorMsg ? `${action.errorMsg}: ${message}` : message);
  }
  return observation;
}
