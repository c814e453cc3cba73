/**
 * What the assistant's agent loop (`/v1/assistants/lite`) asks of the knowledge store that `/v1/files` fills:
 * whether a user has an index at all, and the best chunks for a query. The loop renders the original's knowledge
 * block from the hits and cuts it to `knowledge_limit` characters.
 */
export interface KnowledgeHit {
  /** The uploaded file's name (no directory part), as `files` filters name it. */
  file: string;
  text: string;
  /** Higher is better; comparable only within one answer. */
  score: number;
}

export interface KnowledgeSearch {
  /** Only chunks of these file names; empty or absent means all of the user's files. */
  files?: string[];
  /** At most this many hits. */
  limit?: number;
  signal?: AbortSignal;
}

export interface KnowledgeBase {
  /** True when the user (`uuid_str`) has at least one indexed chunk. */
  hasIndex(uuid: string): Promise<boolean>;
  /** Ranked hits, best first; empty when nothing matches. */
  search(uuid: string, query: string, options?: KnowledgeSearch): Promise<KnowledgeHit[]>;
}
