/**
 * The lines of the log file, exactly as ROCK writes them (one record per line, metadata as Python's json.dumps):
 *
 *   LLM_REQUEST_START{"model": "m", "messages": []}LLM_REQUEST_END{"timestamp": 1732200000000, "index": 1}\n
 *   LLM_RESPONSE_START{"choices": []}LLM_RESPONSE_END{"timestamp": 1732200000123, "index": 1}\n
 *   SESSION_END\n
 */
import { appendFileSync } from "node:fs";
import { REQUEST_END, REQUEST_START, RESPONSE_END, RESPONSE_START, SESSION_END } from "./markers.ts";
import { toPythonJson } from "./python-json.ts";

export function metadataJson(index: number, timestamp = Date.now()): string {
  return `{"timestamp": ${timestamp}, "index": ${index}}`;
}

/** `requestJson` is the agent's body; it is rewritten in ROCK's JSON style so that the record is one line. */
export function requestLine(requestJson: string, index: number, timestamp?: number): string {
  return `${REQUEST_START}${toPythonJson(requestJson)}${REQUEST_END}${metadataJson(index, timestamp)}\n`;
}

/**
 * ROCK writes the trainer's response as given. So do we, when that is safe to read back line by line: otherwise
 * (it spans lines, or a string in it mentions a marker) the same JSON value is written on one line.
 */
export function responseLine(responseJson: string, index: number, timestamp?: number): string {
  JSON.parse(responseJson);
  const safe = !/[\r\n]/.test(responseJson) && !containsMarker(responseJson);
  const body = safe ? responseJson : toPythonJson(responseJson);
  return `${RESPONSE_START}${body}${RESPONSE_END}${metadataJson(index, timestamp)}\n`;
}

/**
 * A line of LLMTraj.jsonl as ROCK's record_traj writes it: json.dumps({"request": body, "response": response},
 * ensure_ascii=False). Marker words stay as they are: nothing reads this file by substring.
 */
export function trajectoryLine(requestJson: string, responseJson: string): string {
  const python = (json: string) => toPythonJson(json, { escapeMarkers: false });
  return `{"request": ${python(requestJson)}, "response": ${python(responseJson)}}\n`;
}

export const sessionEndLine = `${SESSION_END}\n`;

function containsMarker(text: string): boolean {
  return [REQUEST_START, REQUEST_END, RESPONSE_START, RESPONSE_END, SESSION_END].some((m) => text.includes(m));
}

/**
 * One write(2) on a file opened with O_APPEND: the kernel places it at the end atomically, so the service and a
 * trainer appending at the same moment never interleave or overwrite each other's bytes.
 */
export function appendRecord(path: string, line: string): void {
  appendFileSync(path, line);
}
