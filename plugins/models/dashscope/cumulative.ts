/**
 * Turns DashScope's cumulative frames (each carries the whole text so far) into deltas.
 *
 * Frames are usually prefix extensions of each other, but not always: a frame may end in a half-decoded
 * character (U+FFFD, or a lone high surrogate) that the next frame replaces, or the upstream may revise
 * earlier text. The unstable tail is held back until a later frame or the end settles it. Text already
 * emitted cannot be taken back, so after a real revision streaming resumes where the end of the emitted
 * text reappears in the new frame, or failing that at the emitted length; `onRevision` reports it.
 */

export interface Revision {
  /** Where the frame first differs from what was already emitted. */
  at: number;
  emitted: number;
  frame: number;
}

/** Anchors shorter than this match by chance too easily; longer ones are not needed. */
const MIN_ANCHOR = 3;
const MAX_ANCHOR = 32;

export class CumulativeText {
  /** The upstream text the emitted deltas stand for. */
  private basis = "";

  constructor(private readonly onRevision?: (revision: Revision) => void) {}

  /** Delta for a frame in the middle of the stream. */
  next(frame: string): string {
    return this.advance(withoutUnstableTail(frame));
  }

  /** Delta for the last frame: nothing is held back any more. */
  finish(frame: string): string {
    return this.advance(frame);
  }

  private advance(visible: string): string {
    const basis = this.basis;
    if (visible.startsWith(basis)) {
      this.basis = visible;
      return visible.slice(basis.length);
    }
    const at = commonPrefixLength(basis, visible);
    // A frame that is merely shorter than what was emitted (a prefix of it) revises nothing: wait for more.
    if (at === visible.length) return "";
    this.onRevision?.({ at, emitted: basis.length, frame: visible.length });
    const resume = resumePoint(basis, visible, at) ?? (visible.length > basis.length ? basis.length : undefined);
    if (resume === undefined) return "";
    this.basis = visible;
    return visible.slice(resume);
  }
}

/** Just after the longest end piece of the emitted text found again in the revised frame. */
function resumePoint(basis: string, visible: string, at: number): number | undefined {
  const revised = basis.slice(at);
  for (let k = Math.min(revised.length, MAX_ANCHOR); k >= Math.min(MIN_ANCHOR, revised.length) && k > 0; k--) {
    const anchor = revised.slice(-k);
    const found = visible.indexOf(anchor, at);
    if (found !== -1) return found + k;
  }
  return undefined;
}

function withoutUnstableTail(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0xfffd) end--;
  const last = text.charCodeAt(end - 1);
  if (end > 0 && last >= 0xd800 && last <= 0xdbff) end--;
  return text.slice(0, end);
}

function commonPrefixLength(a: string, b: string): number {
  const limit = Math.min(a.length, b.length);
  let i = 0;
  while (i < limit && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}
