/**
 * `model-service <command>`: ROCK's CLI (rock/cli/command/model_service.py), shared by `bun run rock model-service`
 * and the standalone program that runs inside sandboxes. Prints only the result on stdout (anti-call-llm's request
 * JSON must be machine-readable); everything else goes to stderr.
 */
import { readFileSync, unlinkSync } from "node:fs";
import { localUrl, serviceOutputFile, startInBackground, stopService } from "./daemon.ts";
import { CommandError, SettingsError } from "./errors.ts";
import { serveForeground } from "./foreground.ts";
import { AntiCallError, ModelClient } from "./model-client.ts";
import { resolveSettings, type Flags } from "./settings.ts";

const SETTINGS_FLAGS = ["config-file", "log-file", "pid-file", "polling-interval", "request-timeout"];
const SERVER_FLAGS = [
  ...SETTINGS_FLAGS,
  "type",
  "host",
  "port",
  "proxy-base-url",
  "retryable-status-codes",
  "max-retries",
  "retry-base-delay-ms",
  "retry-max-delay-ms",
  "recording-file",
  "replay-file",
  "traj-file",
  "agent-check-interval",
];

export const USAGE = `model-service: the bridge between an agent's LLM calls and a trainer (ROCK's model service)

  model-service start [--type local|proxy] [--config-file F] [--host H] [--port P] [--log-file F]
                      [--request-timeout S] [--polling-interval S] [--proxy-base-url URL]
                      [--retryable-status-codes 429,500] [--recording-file F | --replay-file F]
      starts the service in the background and returns once it answers /health
  model-service serve [same options]      runs it in the foreground (what start runs)
  model-service stop                      stops it (SIGTERM, then SIGKILL after 10 s)
  model-service watch-agent --pid PID [--host H] [--port P]
      writes SESSION_END when the agent process exits
  model-service anti-call-llm --index N [--response JSON | --response-file F] [--log-file F] [--timeout S]
      the trainer's step: answers call N (N > 0) and prints request N+1, or SESSION_END

Environment: SERVICE_HOST (0.0.0.0), SERVICE_PORT (8080), LOG_FILE ($ROCK_MODEL_SERVICE_DATA_DIR/LLMService.log,
/data/logs by default), POLLING_INTERVAL_SECONDS (0.1), REQUEST_TIMEOUT (unlimited in local mode, 120 s in proxy
mode), ROCK_MODEL_CLIENT_POLL_TIMEOUT (anti-call-llm's wait, unlimited). Flags win over the environment, which wins
over the config file.`;

class UsageError extends Error {}

function parseFlags(args: string[], allowed: string[]): Flags {
  const flags: Flags = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) throw new UsageError(`unexpected argument '${arg}'`);
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (!allowed.includes(name)) throw new UsageError(`unknown option --${name}`);
    const value = inline ?? args[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    flags[name] = value;
  }
  return flags;
}

const commands: Record<string, (args: string[]) => Promise<number>> = {
  async start(args) {
    const settings = resolveSettings(parseFlags(args, SERVER_FLAGS));
    const { pid, url } = await startInBackground(settings, args);
    console.log(`model service started: pid ${pid}, ${url}, type ${settings.type}, log ${settings.logFile} (output: ${serviceOutputFile(settings)})`);
    return 0;
  },
  async serve(args) {
    return serveForeground(resolveSettings(parseFlags(args, SERVER_FLAGS)));
  },
  async stop(args) {
    const settings = resolveSettings(parseFlags(args, SETTINGS_FLAGS));
    const stopped = await stopService(settings);
    if (!stopped) console.log(`model service is not running (no live process in ${settings.pidFile})`);
    else console.log(`model service stopped (pid ${stopped.pid}${stopped.forced ? ", killed after 10 s" : ""})`);
    return 0;
  },
  async "watch-agent"(args) {
    const flags = parseFlags(args, [...SETTINGS_FLAGS, "pid", "host", "port"]);
    const pid = Number(flags.pid);
    if (!flags.pid || !Number.isInteger(pid) || pid <= 0) throw new UsageError("--pid PID is required (a positive integer)");
    const settings = resolveSettings({ ...flags, host: flags.host ?? "127.0.0.1" });
    const url = `${localUrl(settings)}/v1/agent/watch`;
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ pid }) }).catch(
      (error) => {
        throw new CommandError(`the model service is not answering at ${url}: ${(error as Error).message}`);
      },
    );
    const text = await response.text();
    if (!response.ok) throw new CommandError(`${url} answered HTTP ${response.status}: ${text}`);
    console.log(text);
    return 0;
  },
  async "anti-call-llm"(args) {
    const flags = parseFlags(args, [...SETTINGS_FLAGS, "index", "response", "response-file", "timeout"]);
    if (flags.index === undefined || !/^\d+$/.test(flags.index)) throw new UsageError("--index N is required (a whole number from 0)");
    if (flags.response !== undefined && flags["response-file"] !== undefined) throw new UsageError("give --response or --response-file, not both");
    const responseFile = flags["response-file"];
    const response = responseFile !== undefined ? readResponseFile(responseFile) : flags.response;
    const timeoutSeconds = flags.timeout ?? process.env.ROCK_MODEL_CLIENT_POLL_TIMEOUT;
    const timeoutMs = timeoutSeconds ? Number(timeoutSeconds) * 1000 : undefined;
    if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new UsageError(`--timeout: expected a positive number of seconds (got ${timeoutSeconds})`);
    const settings = resolveSettings(flags);
    const client = new ModelClient(settings.logFile, { pollIntervalMs: settings.pollIntervalMs, warn: (m) => console.error(`model-service: ${m}`) });
    try {
      const next = await client.antiCallLlm(Number(flags.index), response, { timeoutMs });
      // ROCK deletes the payload file it was handed (the SDK uploads one per call); we do once it is in the log.
      if (responseFile !== undefined) unlinkSync(responseFile);
      process.stdout.write(`${next}\n`);
      return 0;
    } catch (error) {
      if (error instanceof AntiCallError) throw new CommandError(error.message);
      throw error;
    } finally {
      client.close();
    }
  },
};

function readResponseFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new CommandError(`cannot read --response-file: ${(error as Error).message}`);
  }
}

/** Runs one command; returns the exit code (0 ok, 1 failed, 2 bad usage or settings). */
export async function runModelServiceCommand(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help" || args.includes("--help")) {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  const command = commands[name];
  try {
    if (!command) throw new UsageError(`unknown command '${name}' (start, serve, stop, watch-agent, anti-call-llm)`);
    return await command(args);
  } catch (error) {
    if (error instanceof UsageError || error instanceof SettingsError) {
      console.error(`model-service ${name}: ${error.message}`);
      return 2;
    }
    if (error instanceof CommandError) {
      console.error(`model-service ${name}: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
