import { performance } from 'node:perf_hooks';

/** Wall-clock seconds with microsecond resolution, as candump and python-can timestamps use. */
export function nowSeconds(): number {
  return (performance.timeOrigin + performance.now()) / 1000;
}
