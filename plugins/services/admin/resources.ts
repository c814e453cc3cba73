/** Docker-style memory sizes ("512m", "8g", "1.5G", plain bytes) and ROCK's "%.2fg" display. */
const units: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Bytes, or null when the text is not a size. */
export function parseMemory(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?\s*$/i.exec(text);
  if (!m) return null;
  const bytes = Math.floor(Number(m[1]) * units[m[2].toLowerCase()]);
  return bytes > 0 ? bytes : null;
}

export const formatMemory = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(2)}g`;
