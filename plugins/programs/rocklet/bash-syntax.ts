import type { Subprocess } from "bun";
import { rockletErrors } from "./errors.ts";
import { spawnError } from "./limits.ts";
import { pythonRepr } from "../../protocol/python-repr.ts";
import { decodeUtf8 } from "./utf8-decoder.ts";

const RESERVED_WORDS = new Set([
  "if", "then", "else", "elif", "fi", "case", "esac", "for", "select", "while", "until", "do", "done", "in",
  "function", "time", "coproc", "{", "}", "!", "[[", "]]",
]);

/** Plain words only: no quotes, expansions, operators, redirections, comments or globs. */
const PLAIN_TEXT = /^[A-Za-z0-9_\-./=:,+@%^ \t\n]*$/;

/**
 * True for commands that cannot be a syntax error (e.g. `echo hi`, `ls -la /tmp`), which skip the `bash -n` check:
 * that check costs a process spawn and the round trip of a simple command should stay around a millisecond.
 */
export function isTriviallyValid(command: string): boolean {
  if (!PLAIN_TEXT.test(command)) return false;
  return command.split(/\s+/).every((word) => !RESERVED_WORDS.has(word));
}

/**
 * Rejects commands bash cannot parse, before they reach the session: a half-parsed command would leave the shell
 * waiting for more input. An unterminated here-document is rejected as well, since it would swallow the end marker.
 */
export async function checkBashSyntax(bashPath: string, command: string): Promise<void> {
  if (isTriviallyValid(command)) return;
  let check: Subprocess<Uint8Array, "pipe", "pipe">;
  try {
    check = Bun.spawn([bashPath, "-n"], {
      argv0: "bash",
      stdin: new TextEncoder().encode(`${command}\n`),
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" },
    });
  } catch (error) {
    throw spawnError(error, bashPath);
  }
  const [stdoutBytes, stderrBytes, exitCode] = await Promise.all([
    new Response(check.stdout).bytes(),
    new Response(check.stderr).bytes(),
    check.exited,
  ]);
  const stdout = decodeUtf8(stdoutBytes);
  const stderr = decodeUtf8(stderrBytes);
  const unterminatedHereDoc = /here-document .*delimited by end-of-file/.test(stderr);
  if (exitCode === 0 && !unterminatedHereDoc) return;
  const what = unterminatedHereDoc ? "unterminated here-document" : `exit code ${exitCode}`;
  throw rockletErrors.syntax(
    `Syntax error (${what}) while checking bash command \n${pythonRepr(command)}\n` +
      `---- Stderr ----\n${stderr}\n---- Stdout ----\n${stdout}`,
    stdout,
    stderr,
  );
}
