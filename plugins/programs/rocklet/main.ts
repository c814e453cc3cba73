#!/usr/bin/env bun
import { makeUndumpable } from "../process-secrets.ts";
import { loadToken } from "./auth.ts";
import { parseCli, ROCKLET_VERSION, USAGE, UsageError } from "./cli-options.ts";
import { startRocklet } from "./server.ts";
import { startWorkerThreads } from "./limits.ts";
import { ROCKLET_RUNTIME_ENV } from "../../protocol/rocklet-runtime.ts";

/** Entry point of the rocklet binary: `rocklet --host 0.0.0.0 --port 8000` (see cli-options.ts for all flags). */

function log(message: string): void {
  process.stderr.write(`[rocklet] ${message}\n`);
}

function fail(message: string, code = 2): never {
  log(message);
  process.exit(code);
}

async function main(): Promise<void> {
  let options;
  try {
    options = parseCli(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) fail(`${error.message}\n\n${USAGE}`);
    throw error;
  }
  if (options.help) {
    console.log(USAGE);
    return;
  }
  if (options.version) {
    console.log(ROCKLET_VERSION);
    return;
  }
  // Before the token is read: commands in the sandbox run as the same user and must not read it from our memory.
  const dumpable = makeUndumpable();
  if (dumpable) log(`WARNING: the rocklet's memory stays readable by processes of its user: ${dumpable}`);
  let source;
  try {
    source = options.tokenSha256 ? { token: null, from: "--token-sha256" } : await loadToken(options, log);
  } catch (error) {
    fail(`cannot read the token: ${(error as Error).message}`);
  }
  if (source.token === null && !options.tokenSha256 && !options.insecure) {
    fail(
      "refusing to start without an access token: anyone who can reach the port could run commands in this sandbox.\n" +
        "Set ROCKLET_TOKEN or pass --token-file PATH or --token-stdin (the orchestrator gives each sandbox its own token),\n" +
        "or pass --insecure to run without authentication (local development only).",
    );
  }
  if (source.token === null && !options.tokenSha256) log("WARNING: running with --insecure, no authentication");
  // The token must not reach commands; sessions and execute get environmentWithoutSecrets() as well.
  delete process.env.ROCKLET_TOKEN;
  for (const name of Object.keys(ROCKLET_RUNTIME_ENV)) delete process.env[name];

  await startWorkerThreads();
  const bashPath = Bun.which("bash") ?? "/bin/bash";
  let server;
  try {
    server = startRocklet({
      hostname: options.host,
      port: options.port,
      token: source.token,
      tokenSha256: options.tokenSha256,
      maxUploadBytes: options.maxUploadBytes,
      maxUnzipBytes: options.maxUnzipBytes,
      requestTimeoutSeconds: options.requestTimeoutSeconds,
      commandMarginSeconds: 30,
      idleTimeoutSeconds: options.idleTimeoutSeconds,
      maxOutputBytes: options.maxOutputBytes,
      maxSessions: options.maxSessions,
      maxReadBytes: options.maxReadBytes,
      bashPath,
      logError: log,
    });
  } catch (error) {
    fail(`cannot listen on ${options.host}:${options.port}: ${(error as Error).message}`, 1);
  }
  log(`listening on ${options.host}:${server.port} (version ${ROCKLET_VERSION}, token from ${source.from})`);

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await server.stop();
    process.exit(0);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

await main();
