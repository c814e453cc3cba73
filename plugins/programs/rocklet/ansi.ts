/** ANSI escape sequences (colours, cursor moves). ROCK strips them from session output; so does the rocklet. */
const ANSI_ESCAPE = /\x1B[@-_][0-?]*[ -/]*[@-~]/g;

export function stripAnsi(text: string): string {
  return text.includes("\x1B") ? text.replace(ANSI_ESCAPE, "") : text;
}
