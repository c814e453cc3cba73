import {
  type Body,
  invalid,
  literal,
  nullableNumber,
  nullableString,
  nullableStringRecord,
  optionalBoolean,
  optionalString,
  requiredString,
  stringList,
} from "./validation.ts";

/** Request models of ROCK's rocklet routes (reference §1.6), with ROCK's defaults. `sandbox_id` is accepted and unused. */

export interface CreateSessionRequest {
  session: string;
  startupSource: string[];
  envEnable: boolean;
  env: Record<string, string> | null;
  remoteUser: string | null;
  startupTimeout: number;
}

export function parseCreateSession(body: Body): CreateSessionRequest {
  literal(body, "session_type", ["bash"], "bash");
  return {
    session: optionalString(body, "session", "default"),
    startupSource: stringList(body, "startup_source"),
    envEnable: optionalBoolean(body, "env_enable", false),
    env: nullableStringRecord(body, "env"),
    remoteUser: nullableString(body, "remote_user"),
    startupTimeout: nullableNumber(body, "startup_timeout", 1.0) ?? 1.0,
  };
}

export type CheckMode = "silent" | "raise" | "ignore";

export interface BashAction {
  command: string;
  session: string;
  timeout: number | null;
  check: CheckMode;
  isInteractiveCommand: boolean;
  isInteractiveQuit: boolean;
  errorMsg: string;
  expect: string[];
}

export function parseBashAction(body: Body): BashAction {
  literal(body, "action_type", ["bash"], "bash");
  const action: BashAction = {
    command: requiredString(body, "command"),
    session: optionalString(body, "session", "default"),
    timeout: nullableNumber(body, "timeout", null),
    check: literal(body, "check", ["silent", "raise", "ignore"] as const, "raise"),
    isInteractiveCommand: optionalBoolean(body, "is_interactive_command", false),
    isInteractiveQuit: optionalBoolean(body, "is_interactive_quit", false),
    errorMsg: optionalString(body, "error_msg", ""),
    expect: stringList(body, "expect"),
  };
  if (action.expect.includes("")) throw invalid("expect", "string_too_short", "expect strings must not be empty", "");
  return action;
}

export function parseCloseSession(body: Body): { session: string } {
  literal(body, "session_type", ["bash"], "bash");
  return { session: optionalString(body, "session", "default") };
}

export interface ExecuteRequest {
  command: string | string[];
  timeout: number | null;
  shell: boolean;
  check: boolean;
  errorMsg: string;
  env: Record<string, string> | null;
  cwd: string | null;
}

export function parseExecute(body: Body): ExecuteRequest {
  literal(body, "session_type", ["bash"], "bash");
  const command = body.command;
  if (command === undefined) throw invalid("command", "missing", "Field required", body);
  const isArgv = Array.isArray(command) && command.every((item) => typeof item === "string");
  if (typeof command !== "string" && !isArgv) {
    throw invalid("command", "union_type", "Input should be a valid string or a list of strings", command);
  }
  if (isArgv && (command as string[]).length === 0) {
    throw invalid("command", "too_short", "List should have at least 1 item", command);
  }
  return {
    command: command as string | string[],
    timeout: nullableNumber(body, "timeout", 1200),
    shell: optionalBoolean(body, "shell", false),
    check: optionalBoolean(body, "check", false),
    errorMsg: optionalString(body, "error_msg", ""),
    env: nullableStringRecord(body, "env"),
    cwd: nullableString(body, "cwd"),
  };
}

export interface ReadFileRequest {
  path: string;
  encoding: string | null;
  errors: string | null;
}

export function parseReadFile(body: Body): ReadFileRequest {
  return {
    path: requiredString(body, "path"),
    encoding: nullableString(body, "encoding"),
    errors: nullableString(body, "errors"),
  };
}

export function parseWriteFile(body: Body): { path: string; content: string } {
  return { content: requiredString(body, "content"), path: requiredString(body, "path") };
}
