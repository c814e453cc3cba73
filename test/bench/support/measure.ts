/** Latency sampling for benchmarks: fixed request count, a worker pool of `concurrency`, sorted samples. */
export async function sample(count: number, concurrency: number, once: () => Promise<number>): Promise<number[]> {
  const times: number[] = [];
  let started = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < count) {
        started++;
        times.push(await once());
      }
    }),
  );
  return times.sort((a, b) => a - b);
}

export const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
export const ms = (n: number) => n.toFixed(2).padStart(7);

/** Starts `cmd`, returns the first line it prints (e.g. a port) and the process. */
export async function spawnAndReadLine(cmd: string[], env: Record<string, string | undefined> = process.env) {
  const child = Bun.spawn(cmd, { stdout: "pipe", stderr: "inherit", env });
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`${cmd.join(" ")} exited before printing a line`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return { child, line: text.split("\n")[0].trim() };
}
