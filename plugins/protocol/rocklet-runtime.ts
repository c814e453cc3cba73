/**
 * The environment a deployment starts the rocklet with. JavaScriptCore otherwise starts helper threads on demand (JIT
 * compilers, parallel and concurrent GC, the heap's warm-up): in a sandbox that holds every pid of its cgroup (a fork bomb), such a start
 * fails and aborts the whole rocklet. With these, the rocklet's threads are all started with it (see also
 * startWorkerThreads in the rocklet); it removes them from its own environment, so that commands do not inherit them.
 */
export const ROCKLET_RUNTIME_ENV: Readonly<Record<string, string>> = {
  BUN_JSC_useConcurrentJIT: "0",
  BUN_JSC_useConcurrentGC: "0",
  BUN_JSC_numberOfGCMarkers: "1",
  // Its helper (JSCWarmUp) ends after a while idle and starts again with the next burst of allocations.
  BUN_JSC_useWarmUpMarkedBlocks: "0",
};
