import { SHA256_HEX } from "./auth.ts";
import { DEFAULT_OPTIONS } from "./server.ts";

export const ROCKLET_VERSION = "0.1.0";

export interface CliOptions {
  host: string;
  port: number;
  tokenFile: string | null;
  tokenStdin: boolean;
  tokenSha256: string | null;
  insecure: boolean;
  maxSessions: number;
  maxUploadBytes: number;
  maxUnzipBytes: number;
  requestTimeoutSeconds: number;
  idleTimeoutSeconds: number;
  maxOutputBytes: number;
  maxReadBytes: number;
  help: boolean;
  version: boolean;
}

export const USAGE = `rocklet: the in-sandbox agent (ROCK-compatible HTTP API)

Usage: rocklet [--host 0.0.0.0] [--port 8000] [--token-stdin | --token-file PATH | --token-sha256 HEX | env ROCKLET_TOKEN] [options]

  --host HOST               address to bind (default 0.0.0.0)
  --port PORT               port to listen on (default 8000; 0 picks a free port)
  --token-stdin             read the access token from the first line of stdin (how the docker
                            deployment delivers it: in no file, environment or container config)
  --token-file PATH         read the access token from PATH, then delete the file
                            (otherwise the token comes from the ROCKLET_TOKEN environment variable)
  --token-sha256 HEX        accept the token whose SHA-256 digest is HEX (how the swarm operator
                            starts it: the service's spec holds the digest, never the token)
  --insecure                run without a token: anyone reaching the port can run commands
  --max-upload-bytes SIZE   largest accepted upload, e.g. 1g, 500m (default 1g); larger ones get HTTP 413
  --max-unzip-bytes SIZE    largest total size an uploaded zip may expand to (default 8g)
  --request-timeout SECS    deadline of routes without their own timeout (default 600)
  --idle-timeout SECS       idle timeout of keep-alive connections (default 120)
  --max-output-bytes SIZE   output kept per command; the middle of longer output is dropped (default 64m)
  --max-sessions N          bash sessions open at once; more are refused (default 64)
  --max-read-bytes SIZE     largest file read_file returns (default 16m); larger ones are an error
  -v, --version             print the version
  -h, --help                print this help

Clients authenticate with 'Authorization: Bearer <token>' or 'X-Rocklet-Token: <token>'
on every route except GET / and GET /is_alive.`;

export class UsageError extends Error {}

const SIZE_UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Sizes like `1g`, `500m`, `1.5k`, `1GiB` or plain bytes. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!match) throw new UsageError(`invalid size: ${text}`);
  return Math.floor(Number(match[1]) * SIZE_UNITS[match[2].toLowerCase()]);
}

export function parseCli(argv: string[]): CliOptions {
  const options: CliOptions = {
    host: DEFAULT_OPTIONS.hostname,
    port: DEFAULT_OPTIONS.port,
    tokenFile: null,
    tokenStdin: false,
    tokenSha256: null,
    insecure: false,
    maxSessions: DEFAULT_OPTIONS.maxSessions,
    maxUploadBytes: DEFAULT_OPTIONS.maxUploadBytes,
    maxUnzipBytes: DEFAULT_OPTIONS.maxUnzipBytes,
    requestTimeoutSeconds: DEFAULT_OPTIONS.requestTimeoutSeconds,
    idleTimeoutSeconds: DEFAULT_OPTIONS.idleTimeoutSeconds,
    maxOutputBytes: DEFAULT_OPTIONS.maxOutputBytes,
    maxReadBytes: DEFAULT_OPTIONS.maxReadBytes,
    help: false,
    version: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].startsWith("--") && argv[i].includes("=") ? argv[i].split(/=(.*)/s) : [argv[i]];
    const value = () => {
      const next = inline ?? argv[++i];
      if (next === undefined) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case "--host":
        options.host = value();
        break;
      case "--port":
        options.port = integer(flag, value(), 0, 65535);
        break;
      case "--token-file":
        options.tokenFile = value();
        break;
      case "--token-stdin":
        options.tokenStdin = true;
        break;
      case "--token-sha256":
        options.tokenSha256 = value();
        if (!SHA256_HEX.test(options.tokenSha256)) throw new UsageError("--token-sha256 expects a SHA-256 digest of 64 hex digits");
        break;
      case "--max-sessions":
        options.maxSessions = integer(flag, value(), 1, 1e6);
        break;
      case "--insecure":
        options.insecure = true;
        break;
      case "--max-upload-bytes":
        options.maxUploadBytes = parseSize(value());
        break;
      case "--max-unzip-bytes":
        options.maxUnzipBytes = parseSize(value());
        break;
      case "--request-timeout":
        options.requestTimeoutSeconds = integer(flag, value(), 1, 1e9);
        break;
      case "--idle-timeout":
        options.idleTimeoutSeconds = integer(flag, value(), 0, 255);
        break;
      case "--max-output-bytes":
        options.maxOutputBytes = parseSize(value());
        break;
      case "--max-read-bytes":
        options.maxReadBytes = parseSize(value());
        break;
      case "-h":
      case "--help":
        options.help = true;
        break;
      case "-v":
      case "--version":
        options.version = true;
        break;
      default:
        throw new UsageError(`unknown argument: ${argv[i]}`);
    }
  }
  if (options.tokenStdin && options.tokenFile) throw new UsageError("--token-stdin and --token-file exclude each other");
  if (options.tokenSha256 && (options.tokenStdin || options.tokenFile)) throw new UsageError("--token-sha256 excludes --token-stdin and --token-file");
  return options;
}

function integer(flag: string, text: string, min: number, max: number): number {
  const number = Number(text);
  if (!Number.isInteger(number) || number < min || number > max) {
    throw new UsageError(`${flag} expects an integer between ${min} and ${max}, got ${text}`);
  }
  return number;
}
