/**
 * `rock sandbox start|list|status|exec|stop` against a running admin, through the SDK. Exit codes: 0 success,
 * 1 the admin refused or failed, 2 bad usage; `exec` exits with the command's own code (124 when it did not finish).
 */
import type { CliCommand } from "../../../core/cli.ts";
import { RockClient, RockError, Sandbox } from "../sdk/index.ts";
import { numberOption, onePositional, pairs, parse, transportOptions, UsageError } from "./options.ts";
import { listText, progressPrinter, statusText } from "./render.ts";

const usage = `rock sandbox <subcommand> [options]

  start  --image IMAGE [--cpus N] [--memory SIZE] [--sandbox-id ID] [--auto-clear-minutes N] [--timeout SECS]
         [--placement LABEL=VALUE]...
         starts a sandbox (on nodes with those labels, e.g. zone=b) and waits until it answers (progress on stderr);
         prints its id
  list   [--filter KEY=VALUE]...   active sandboxes (filters: user_id, experiment_id, namespace, image, state)
  status SANDBOX_ID                one sandbox (--all-states to include stopped ones)
  exec   SANDBOX_ID [--cwd DIR] [--env K=V]... [--timeout SECS] -- COMMAND [ARGS...]
         one argument runs through the shell, several run as argv; exits with the command's exit code
  stop   SANDBOX_ID

Options of every subcommand:
  --url URL       the admin (default $ROCK_BASE_URL, else http://127.0.0.1:8080; --base-url is an alias)
  --token-file F  read the admin's bearer token from file F (default $ROCK_API_TOKEN)
  --token TOKEN   the token itself (--auth-token is an alias); it shows in the process listing: prefer the above
  --json          print JSON instead of text`;

const out = (text: string) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
const err = (text: string) => process.stderr.write(text);
const json = (value: unknown) => out(JSON.stringify(value, null, 2));

async function start(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    image: { type: "string" },
    cpus: { type: "string" },
    memory: { type: "string" },
    "sandbox-id": { type: "string" },
    "auto-clear-minutes": { type: "string" },
    timeout: { type: "string" },
    placement: { type: "string", multiple: true },
  });
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (!values.image) throw new UsageError("--image is required");
  const timeout = numberOption("timeout", values.timeout);
  const sandbox = new Sandbox({
    ...transportOptions(values),
    image: values.image,
    cpus: numberOption("cpus", values.cpus),
    memory: values.memory,
    sandboxId: values["sandbox-id"],
    autoClearTimeMinutes: numberOption("auto-clear-minutes", values["auto-clear-minutes"]),
    placement: pairs("placement", values.placement),
    startupTimeoutMs: timeout === undefined ? undefined : timeout * 1000,
  });
  err(`starting a sandbox from ${values.image} at ${sandbox.client.baseUrl}\n`);
  const progress = progressPrinter(err);
  try {
    const status = await sandbox.start({ onProgress: progress.onProgress });
    if (values.json) json(status);
    else out(status.sandbox_id);
    return 0;
  } finally {
    progress.finish();
  }
}

async function list(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { filter: { type: "string", multiple: true } });
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const client = new RockClient(transportOptions(values));
  const items = [];
  for (let page = 1; ; page++) {
    const answer = await client.list({ page, page_size: 500, filters: pairs("filter", values.filter) });
    items.push(...answer.items);
    if (!answer.has_more) break;
  }
  if (values.json) json(items);
  else out(items.length ? listText(items) : "no active sandboxes");
  return 0;
}

async function status(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { "all-states": { type: "boolean" } });
  const id = onePositional(positionals, "SANDBOX_ID");
  const answer = await new RockClient(transportOptions(values)).getStatus(id, values["all-states"] ?? false);
  if (values.json) json(answer);
  else out(statusText(answer));
  return 0;
}

async function exec(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { cwd: { type: "string" }, env: { type: "string", multiple: true }, timeout: { type: "string" } });
  const [id, ...command] = positionals;
  if (!id || !command.length) throw new UsageError("expected SANDBOX_ID -- COMMAND [ARGS...]");
  const client = new RockClient(transportOptions(values));
  const result = await client.execute(id, command.length === 1 ? command[0] : command, {
    cwd: values.cwd,
    env: pairs("env", values.env),
    timeout: numberOption("timeout", values.timeout),
  });
  if (values.json) json(result);
  else {
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
  }
  if (result.exit_code === -1) {
    err(`rock sandbox exec: the command did not finish: ${result.failure_reason ?? "unknown reason"}\n`);
    return 124;
  }
  return result.exit_code;
}

async function stop(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {});
  const id = onePositional(positionals, "SANDBOX_ID");
  await new RockClient(transportOptions(values)).stop(id);
  if (values.json) json({ sandbox_id: id, stopped: true });
  else out(`${id} stopped`);
  return 0;
}

const subcommands: Record<string, (args: string[]) => Promise<number>> = { start, list, status, exec, stop };

export const sandboxCommand: CliCommand = {
  summary: "start, list, inspect, run commands in and stop sandboxes of a running admin",
  usage,
  async run(args) {
    const [name, ...rest] = args;
    const subcommand = name ? subcommands[name] : undefined;
    try {
      if (!subcommand) throw new UsageError(name ? `unknown subcommand '${name}'` : "a subcommand is required");
      return await subcommand(rest);
    } catch (error) {
      if (error instanceof UsageError) {
        err(`rock sandbox: ${error.message}\n\n${usage}\n`);
        return 2;
      }
      if (error instanceof RockError) {
        err(`rock sandbox ${name}: ${error.message} (${error.name}, code ${error.code})\n`);
        return 1;
      }
      throw error;
    }
  },
};
