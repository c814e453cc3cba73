/**
 * How ROCK's own tools read the log file, per its documented behaviour (reference notes §4.2): records are found by
 * substring tests on whole lines, split on the end marker, metadata parsed as JSON. Used to check that what we write
 * stays readable by them.
 */
const REQUEST_START = "LLM_REQUEST_START";
const REQUEST_END = "LLM_REQUEST_END";
const RESPONSE_START = "LLM_RESPONSE_START";
const RESPONSE_END = "LLM_RESPONSE_END";
const SESSION_END = "SESSION_END";

function lines(text: string): string[] {
  return text.split(/(?<=\n)/).filter((l) => l !== "");
}

/** `pop_request`'s view: the last line with a request or SESSION_END. */
export function rockLastRequest(text: string): { json: string; index?: number } {
  const line = lines(text).reverse().find((l) => l.includes(REQUEST_START) || l.includes(SESSION_END));
  if (!line) throw new Error("No request found");
  if (line.includes(SESSION_END)) return { json: SESSION_END };
  const [before, meta] = line.split(REQUEST_END);
  return { json: before.split(REQUEST_START)[1], index: JSON.parse(meta).index };
}

/** The request JSON of call `index`. */
export function rockRequest(text: string, index: number): string | undefined {
  for (const line of lines(text)) {
    if (!line.includes(REQUEST_START) || !line.includes(REQUEST_END)) continue;
    const [before, meta] = line.split(REQUEST_END);
    if (JSON.parse(meta).index === index) return before.split(REQUEST_START)[1];
  }
  return undefined;
}

/** The service's view of response `index`: the first line carrying both response markers with that index. */
export function rockResponse(text: string, index: number): string | undefined {
  for (const line of lines(text)) {
    if (!line.includes(RESPONSE_START) || !line.includes(RESPONSE_END)) continue;
    const [before, meta] = line.split(RESPONSE_END);
    if (JSON.parse(meta).index === index) return before.split(RESPONSE_START)[1];
  }
  return undefined;
}
