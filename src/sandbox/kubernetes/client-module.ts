/**
 * The official Kubernetes client, loaded the first time the Kubernetes backend needs it.
 *
 * Importing `@kubernetes/client-node` costs about 1.5–2 s of start-up on the CI machine (its
 * generated API models are hundreds of modules). Imported at the top of the backend's modules, every
 * daemon start, every runner thread and every CLI command paid it, with the container backend too.
 * It is an ES module without top-level await, which Node (22.12 and later, as package.json requires)
 * loads synchronously through `require`, so the code that builds clients stays synchronous.
 */
import { createRequire } from 'node:module';

type KubeClientModule = typeof import('@kubernetes/client-node');

const require = createRequire(import.meta.url);
let loaded: KubeClientModule | null = null;

/** The client module; loads it on the first call. */
export function kubeClient(): KubeClientModule {
  loaded ??= require('@kubernetes/client-node') as KubeClientModule;
  return loaded;
}

/** The client module if something loaded it already; an error cannot be the client's before that. */
export function kubeClientIfLoaded(): KubeClientModule | null {
  return loaded;
}
