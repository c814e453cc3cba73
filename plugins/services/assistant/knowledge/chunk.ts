/**
 * Splits extracted text into chunks of at most `size` characters that end at sentence or line ends where they can,
 * each beginning with up to `overlap` characters of the previous one's last sentences, so that a fact that straddles
 * two chunks is whole in one of them.
 */
export interface ChunkOptions {
  size: number;
  overlap: number;
}

/** Sentence ends of Latin and CJK text, and line ends. */
const sentence = /(?:[^\n.!?。！？；;]|[.!?](?!\s|$))*(?:[.!?]+(?=\s|$)|[。！？；;]+|\n+|$)\s*/g;

function sentences(text: string, size: number): string[] {
  const out: string[] = [];
  for (const match of text.matchAll(sentence)) {
    const piece = match[0];
    if (!piece) continue;
    // A sentence longer than a chunk is cut at the last space before the limit, else at the limit.
    let rest = piece;
    while (rest.length > size) {
      const space = rest.lastIndexOf(" ", size);
      const cut = space > size / 2 ? space + 1 : size;
      out.push(rest.slice(0, cut));
      rest = rest.slice(cut);
    }
    if (rest) out.push(rest);
  }
  return out;
}

export function chunkText(text: string, { size, overlap }: ChunkOptions): string[] {
  const normalized = text.replace(/\r\n?/g, "\n").replace(/[ \t\f\v]+/g, " ").replace(/\n{3,}/g, "\n\n").trim();
  if (!normalized) return [];
  const chunks: string[] = [];
  let current: string[] = [];
  let length = 0;
  let fresh = 0; // sentences in `current` that no earlier chunk holds
  for (const piece of sentences(normalized, size)) {
    if (length + piece.length > size && fresh > 0) {
      chunks.push(current.join("").trim());
      // Carry the last sentences that fit in `overlap` into the next chunk.
      const carried: string[] = [];
      let carriedLength = 0;
      for (let i = current.length - 1; i >= 0 && carriedLength + current[i].length <= overlap; i--) {
        carried.unshift(current[i]);
        carriedLength += current[i].length;
      }
      while (carried.length && carriedLength + piece.length > size) carriedLength -= carried.shift()!.length;
      current = carried;
      length = carriedLength;
      fresh = 0;
    }
    current.push(piece);
    length += piece.length;
    fresh++;
  }
  if (fresh > 0) chunks.push(current.join("").trim());
  return chunks.filter(Boolean);
}
