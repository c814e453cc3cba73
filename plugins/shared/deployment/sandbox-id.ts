/**
 * Sandbox ids become container names and directory names, so they are restricted to what both accept safely:
 * no path separators, no leading dot or dash (ROCK's own ids are hex uuids).
 */
const SANDBOX_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function assertSandboxId(sandboxId: string): void {
  if (!SANDBOX_ID.test(sandboxId)) {
    throw new Error(`invalid sandbox id ${JSON.stringify(sandboxId)}: expected 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit`);
  }
}
