/** ROCK's warmup route: the operator makes every host hold an image in the background; the route answers at once. */
import type { Logger } from "../../../core/log.ts";
import type { Operator } from "../../../core/kinds/operator.ts";
import { errorMessage } from "../../../core/errors.ts";
import { badRequest } from "./envelope.ts";

export class Warmups {
  private readonly running = new Set<Promise<void>>();
  private readonly abort = new AbortController();

  constructor(
    private readonly operator: Operator,
    private readonly log: Logger,
  ) {}

  /**
   * Resolves once warming `image` up is under way; refused when the operator has no hosts to warm (it pulls at start)
   * or the work cannot begin. Each host's outcome is logged.
   */
  async start(image: string): Promise<void> {
    if (!this.operator.warmup) throw badRequest(`operator '${this.operator.name}' cannot warm up images: it pulls them when a sandbox starts`);
    const { results } = await this.operator.warmup(image, this.abort.signal);
    const done: Promise<void> = results
      .then(
        (results) => {
          for (const { host_ip, host_name, ok, reason } of results) {
            if (ok) this.log.info("image warmed up", { image, host_ip, host_name });
            else this.log.warn("image warmup failed on a host", { image, host_ip, host_name, reason });
          }
        },
        (error) => {
          if (!this.abort.signal.aborted) this.log.error("image warmup failed", { image, error: errorMessage(error) });
        },
      )
      .finally(() => this.running.delete(done));
    this.running.add(done);
  }

  /** Stops the warmups in progress (each removes what it created) and waits for them. */
  async shutdown(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.running);
  }
}
