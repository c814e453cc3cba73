/**
 * The completion route's `input` form field: a JSON list of `{msg, isbot}`. Failures keep the original's
 * messages ("Bad request", "I didn't see your input!") and add which field is wrong and why.
 */
import type { ChatRecord } from "../../core/kinds/filter.ts";

export type InputProblem = { message: "Bad request" | "I didn't see your input!"; field: string; detail: string };

const bad = (field: string, detail: string): InputProblem => ({ message: "Bad request", field, detail });

export function parseHistory(input: string | Blob | null): ChatRecord[] | InputProblem {
  if (input === null) return bad("input", "form field 'input' is required");
  if (typeof input !== "string") return bad("input", "form field 'input' must be text, not a file");
  let parsed: unknown;
  try {
    parsed = JSON.parse(input);
  } catch {
    return bad("input", "form field 'input' is not valid JSON");
  }
  if (!Array.isArray(parsed)) return bad("input", "form field 'input' must be a JSON list of {msg, isbot}");
  const records: ChatRecord[] = [];
  for (const [i, item] of parsed.entries()) {
    if (item === null || typeof item !== "object" || Array.isArray(item)) return bad(`input[${i}]`, "expected an object {msg, isbot}");
    const { msg, isbot } = item as Record<string, unknown>;
    if (typeof msg !== "string") return bad(`input[${i}].msg`, "expected a string");
    if (typeof isbot !== "boolean" && isbot !== 0 && isbot !== 1) return bad(`input[${i}].isbot`, "expected true or false");
    records.push({ msg, role: isbot ? "bot" : "user" });
  }
  if (records.length === 0 || records[records.length - 1].msg === "") {
    return { message: "I didn't see your input!", field: "input", detail: "the history is empty or its last message is empty" };
  }
  return records;
}

export function isInputProblem(value: ChatRecord[] | InputProblem): value is InputProblem {
  return !Array.isArray(value);
}
