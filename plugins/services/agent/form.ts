/**
 * Form fields of the Agent's routes. The answers keep the original's plain-text words (`Failed`, `BUSY`, …)
 * exactly, because clients compare them; a bad request gets a 4xx status and `x-error`/`x-error-field` headers
 * that name the field, since the body cannot.
 */
export type Form = Record<string, unknown>;

export class FormProblem extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export function asForm(body: unknown): Form {
  return body && typeof body === "object" && !Array.isArray(body) ? (body as Form) : {};
}

/** A text field, trimmed; a missing or empty one is a FormProblem when `required`. */
export function field(form: Form, name: string, required: true): string;
export function field(form: Form, name: string, required?: false): string | undefined;
export function field(form: Form, name: string, required = false): string | undefined {
  const value = form[name];
  if (value === undefined || value === null || value === "") {
    if (required) throw new FormProblem(name, `form field '${name}' is required`);
    return undefined;
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value !== "string") throw new FormProblem(name, `form field '${name}' must be text`);
  return value.trim();
}

/** The plain-text answer for a bad request: the original's word, a 4xx status, and the field in headers. */
export function refusal(status: number, word: string, problem: FormProblem): Response {
  return new Response(word, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "x-error": problem.message, "x-error-field": problem.field },
  });
}

export const text = (body: string, status = 200) => new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });

/** `history_id` of chat/abort: a JSON list such as `[12,13]` (the original ran Python eval on it). */
export function historyIdList(raw: string): Set<string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new FormProblem("history_id", "form field 'history_id' must be a JSON list such as [12,13]");
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  if (!list.every((id) => (typeof id === "number" && Number.isInteger(id)) || (typeof id === "string" && id !== ""))) {
    throw new FormProblem("history_id", "form field 'history_id' must list integers or strings");
  }
  return new Set(list.map(String));
}
