import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GarbageCollect = (options: { type: 'minor' | 'major' }) => void;

/** This V8 would not hand out `gc()`: a Node.js runtime canota does not support. */
export class GarbageCollectorUnavailableError extends Error {
  override name = 'GarbageCollectorUnavailableError';
}

/**
 * V8's young-generation collection (a scavenge: a fraction of a millisecond when, as in a download loop,
 * almost nothing survives), for a process that wants the buffers it just dropped freed now rather than
 * when V8's external-memory heuristics get to them. `canota client` calls it every few MiB of download:
 * its peak memory is a target (bench:client: −27 MiB, no measurable time).
 *
 * `--expose-gc` set at run time takes effect for contexts created afterwards, hence the new context; its
 * `gc` collects the whole isolate's heap, this context's included.
 */
export function minorGarbageCollection(): () => void {
  setFlagsFromString('--expose-gc');
  const collect = runInNewContext('gc') as GarbageCollect | undefined;
  if (typeof collect !== 'function') throw new GarbageCollectorUnavailableError('V8 did not expose gc() after --expose-gc');
  return () => collect({ type: 'minor' });
}
