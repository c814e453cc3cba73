/**
 * ROCK's `arun` in nohup mode: the command runs in the background of a bash session, immune to the session's end,
 * with its output in a file; the SDK waits for it (bounded) and returns the output. ROCK submitted it as
 * `nohup CMD … & echo PIDSTART${!}PIDEND;disown`, which exits 1 with "bash: disown: current: no such job" when the
 * job table lost the command before `disown` ran (1 in 200 to 300 quick commands here). Here the background job is
 * started from a subshell, so it is never a job of the session's shell: its pid is `$!` of that subshell, nothing needs
 * disowning, and no job notice ("[1] 123") reaches the session's output; a submission that prints anything but its pid
 * or exits non-zero is reported as not started. Its exit status is written beside its output, so the observation
 * carries the real one (ROCK could only say that the process was gone).
 */
import type { RockClient } from "./client.ts";
import type { Observation, RunInSessionOptions } from "./types.ts";

export interface ArunOptions extends RunInSessionOptions {
  /** "normal": `run_in_session`. "nohup": in the background, immune to the session's end, waited for (ROCK's modes). */
  mode?: "normal" | "nohup";
  /** nohup: seconds to wait for the command (default 300, as ROCK); past them it keeps running and exit_code is 1. */
  waitTimeout?: number;
  /** nohup: seconds one look at the command may wait in the sandbox (default 10, as ROCK's wait_interval). */
  waitInterval?: number;
  /** nohup: the file its output goes to (default /tmp/tmp_<time ns>.out, as ROCK). */
  outputFile?: string;
  /** nohup: answer with the output file's path and size instead of its content. */
  ignoreOutput?: boolean;
  /** nohup: at most this many bytes of the output (ROCK's response_limited_bytes_in_nohup). */
  responseLimitedBytes?: number;
}

const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
const observation = (output: string, exit_code: number | null, failure_reason = ""): Observation => ({ output, exit_code, failure_reason, expect_string: "", session_type: "bash" });

export async function arunNohup(client: RockClient, sandboxId: string, command: string, options: ArunOptions = {}): Promise<Observation> {
  const stamp = `${Date.now()}${String(Math.floor(Math.random() * 1e6)).padStart(6, "0")}`;
  // As ROCK: a session of its own unless one is named; it is closed afterwards (the command outlives it).
  const session = options.session ?? `bash-${stamp}`;
  if (!options.session) await client.createSession(sandboxId, session);
  try {
    const file = options.outputFile ?? `/tmp/tmp_${stamp}.out`;
    const statusFile = `${file}.status`;
    const run = (text: string, timeout: number) => client.runInSession(sandboxId, text, { session, timeout, check: "silent" });

    // The outer bash writes the inner one's status once it ended, whatever the command does (even `exit`); by a
    // rename, so that a look never finds the status file created but still empty (a status-less "killed" under load).
    const wrapper = `"$BASH" -c "$1"; echo $? >"$2.partial" && mv -f "$2.partial" "$2"`;
    const submitted = await run(`( nohup "$BASH" -c ${quote(wrapper)} rock-nohup ${quote(command)} ${quote(statusFile)} </dev/null >${quote(file)} 2>&1 & echo PIDSTART\${!}PIDEND )`, 30);
    const pid = /^PIDSTART(\d+)PIDEND$/.exec(submitted.output)?.[1];
    if (!pid || submitted.exit_code !== 0) {
      return observation(submitted.output, 1, `the command was not started in the background (status ${submitted.exit_code}): ${submitted.failure_reason || submitted.output || "no pid"}`);
    }

    const waitTimeout = options.waitTimeout ?? 300;
    const lookSeconds = Math.max(0.1, Math.min(options.waitInterval ?? 10, waitTimeout));
    const deadline = Date.now() + waitTimeout * 1000;
    // One look waits in the sandbox until the command ended or `lookSeconds` passed, checking every 0.1 s.
    const steps = Math.ceil(lookSeconds * 10);
    const look = `for ((i = 0; i < ${steps}; i++)); do [ -e ${quote(statusFile)} ] || ! kill -0 ${pid} 2>/dev/null && break; sleep 0.1; done; if [ -e ${quote(statusFile)} ] || ! kill -0 ${pid} 2>/dev/null; then echo "ENDED $(cat ${quote(statusFile)} 2>/dev/null)"; else echo RUNNING; fi`;
    let ended: RegExpExecArray | null = null;
    while (!ended) {
      const looked = await run(look, lookSeconds + 30);
      ended = /ENDED ?(\d*)/.exec(looked.output);
      if (!ended && Date.now() >= deadline) {
        return observation("", 1, `the command is still running after ${waitTimeout} s (pid ${pid}); its output goes to ${file}`);
      }
    }
    const status = ended[1] === "" ? null : Number(ended[1]);
    const failure = status === null ? "the command ended without an exit status (it was killed)" : "";
    if (options.ignoreOutput) {
      const size = (await run(`wc -c <${quote(file)}`, 30)).output.trim();
      return observation(`the output (${size} bytes) is in ${file}`, status, failure);
    }
    const read = options.responseLimitedBytes === undefined ? `cat ${quote(file)}` : `head -c ${Math.max(0, Math.floor(options.responseLimitedBytes))} ${quote(file)}`;
    return observation((await run(read, 60)).output, status, failure);
  } finally {
    if (!options.session) await client.closeSession(sandboxId, session).catch(() => undefined);
  }
}
