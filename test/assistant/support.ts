/** Helpers of the assistant tests: a kernel started from a test's own config, with the assistant service in it. */
import { Kernel } from "../../core/kernel.ts";
import type { KnowledgeBase } from "../../plugins/services/assistant/knowledge/contract.ts";
import { repoRoot, type TempProject } from "../support/project.ts";

/** Loads (does not start) a kernel from `yaml`; MODEL_SERVER is cleared so that the config alone picks the model. */
export function loadKernel(project: TempProject, yaml: string): Promise<Kernel> {
  return Kernel.load({ root: repoRoot, configFile: project.config(yaml), env: { ...process.env, MODEL_SERVER: "" } });
}

export interface BootedAssistant {
  kernel: Kernel;
  /** The assistant service's base URL. */
  url: string;
  knowledge: KnowledgeBase;
  /** Stops the kernel and removes the project. */
  close(): Promise<void>;
}

/** Starts a kernel from `yaml` in `project`, which it then owns: on a failed start it is stopped and removed too. */
export async function bootAssistant(project: TempProject, yaml: string): Promise<BootedAssistant> {
  let kernel: Kernel | undefined;
  const close = async () => {
    try {
      await kernel?.stop();
    } finally {
      project.remove();
    }
  };
  try {
    kernel = await loadKernel(project, yaml);
    await kernel.start();
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
  return { kernel, url: kernel.server("assistant")!.url, knowledge: kernel.instance<{ knowledge: KnowledgeBase }>("assistant")!.knowledge, close };
}
