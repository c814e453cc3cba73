/** Runs extraction off the server's event loop (see extractor.ts): one file per message, answered by id. */
import { extract, ExtractionError } from "./extract.ts";

declare const self: Worker;

self.onmessage = async (event: MessageEvent<{ id: number; file: string; type: string; bytes: Uint8Array }>) => {
  const { id, file, type, bytes } = event.data;
  try {
    postMessage({ id, text: await extract(file, type, bytes) });
  } catch (error) {
    if (error instanceof ExtractionError) postMessage({ id, unreadable: error.reason });
    else postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
};
postMessage({ ready: true });
