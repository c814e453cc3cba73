/**
 * The original sent "Observation:" as a stop word, so a model's reply ends where it would start inventing a
 * tool result. Not every backend honours stop words (Ollama's client does not send them), so replies are
 * also cut here.
 */
import { partialMarkerLength } from "./grammar.ts";

export const OBSERVATION_MARKER = "Observation:";

export function cutAtStopMarker(text: string): string {
  const at = text.indexOf(OBSERVATION_MARKER);
  return at < 0 ? text : text.slice(0, at);
}

/** The streaming form of `cutAtStopMarker`: holds back only a tail that could still become the marker. */
export class StopMarkerFilter {
  private held = "";
  private hit = false;

  /** True once the marker was seen; everything after it is dropped. */
  get stopped(): boolean {
    return this.hit;
  }

  push(text: string): string {
    if (this.hit) return "";
    const buffered = this.held + text;
    const at = buffered.indexOf(OBSERVATION_MARKER);
    if (at >= 0) {
      this.hit = true;
      this.held = "";
      return buffered.slice(0, at);
    }
    const keep = partialMarkerLength(buffered, OBSERVATION_MARKER);
    this.held = buffered.slice(buffered.length - keep);
    return buffered.slice(0, buffered.length - keep);
  }

  /** The held tail, at the end of the stream (it never became the marker). */
  flush(): string {
    const rest = this.held;
    this.held = "";
    return rest;
  }
}
