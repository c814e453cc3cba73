/** One JSON document from a stream (an SSE `data` payload or an NDJSON line). */

/** The upstream sent something that is not the JSON it promised. */
export class MalformedFrame extends Error {
  constructor(readonly frame: string) {
    super(`malformed stream frame: ${frame.length > 200 ? `${frame.slice(0, 200)}…` : frame}`);
    this.name = "MalformedFrame";
  }
}

export function parseJsonFrame(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new MalformedFrame(text);
  }
}
