/** Tool-call ids in OpenAI's shape, `call_` plus 24 random letters and digits. */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const ID_LENGTH = 24;
/** The largest multiple of 62 below 256: bytes at or above it are skipped so every character is equally likely. */
const UNBIASED_LIMIT = 256 - (256 % ALPHABET.length);

export function newToolCallId(): string {
  let id = "";
  while (id.length < ID_LENGTH) {
    for (const byte of crypto.getRandomValues(new Uint8Array(32))) {
      if (byte >= UNBIASED_LIMIT) continue;
      id += ALPHABET[byte % ALPHABET.length];
      if (id.length === ID_LENGTH) break;
    }
  }
  return `call_${id}`;
}
