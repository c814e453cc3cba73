import type { ScopedDocker } from "../../../core/permissions/docker.ts";
import type { SandboxSpec } from "../../../core/kinds/deployment.ts";
import { engineMessage } from "./docker-errors.ts";

async function imagePresent(docker: ScopedDocker, image: string): Promise<boolean> {
  return (await docker.inspectImage(image)) !== null;
}

async function pull(docker: ScopedDocker, image: string): Promise<void> {
  try {
    await docker.pull(image);
  } catch (error) {
    throw new Error(`failed to pull image '${image}': ${engineMessage(error)}`, { cause: error });
  }
}

/** Makes `image` available on the engine as the pull policy says, or fails naming the image. */
export async function ensureImage(docker: ScopedDocker, image: string, policy: SandboxSpec["pull"]): Promise<void> {
  if (policy === "always") return pull(docker, image);
  if (await imagePresent(docker, image)) return;
  if (policy === "never") {
    throw new Error(`image '${image}' is not on the Docker engine and the pull policy is 'never' (pull or import it first, or use pull 'missing')`);
  }
  await pull(docker, image);
}
