/**
 * What the full-text index sees of a text. FTS5's unicode61 tokenizer splits on spaces and punctuation, which Chinese,
 * Japanese and Korean text lacks: a whole sentence would be one token and never match a query. Each run of those
 * scripts becomes its overlapping character bigrams instead (as Lucene's CJK analyzer does), which matches the
 * two-character words most such queries are made of. The trigram tokenizer was the other choice: it finds no query
 * term shorter than three characters (续费, 火山) and, for English, matches inside words ("cat" in "education").
 */
const cjkRun = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+/gu;
const word = /[\p{L}\p{M}\p{N}]+/gu;

/** Words that carry no topic in a query; left out so that a query does not match most of the index. */
const stopwords = new Set(
  "a an and are as at be by can could did do does for from had has have how i in is it its me my of on or our should so that the their them there these they this to was we were what when where which who whom why will with would you your about into than then".split(
    " ",
  ),
);

function bigrams(run: string): string[] {
  const chars = Array.from(run);
  if (chars.length < 2) return chars;
  const out: string[] = [];
  for (let i = 0; i + 1 < chars.length; i++) out.push(chars[i] + chars[i + 1]);
  return out;
}

/** The text as the index stores it: CJK runs replaced by their bigrams, everything else as it was. */
export function indexTerms(text: string): string {
  return text.replace(cjkRun, (run) => ` ${bigrams(run).join(" ")} `);
}

/** The distinct terms of a query (at most `max`), CJK as bigrams, without stopwords. */
export function queryTerms(query: string, max = 64): string[] {
  const terms = new Set<string>();
  for (const token of indexTerms(query).toLowerCase().match(word) ?? []) {
    if (!stopwords.has(token)) terms.add(token);
    if (terms.size >= max) break;
  }
  return [...terms];
}

/** An FTS5 MATCH expression that any of `terms` satisfies (each quoted, so no term is read as syntax). */
export function anyOf(terms: string[]): string {
  return terms.map((term) => `"${term.replaceAll('"', '""')}"`).join(" OR ");
}
