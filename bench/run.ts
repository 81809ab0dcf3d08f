// `npm run bench [NAME...]`: the project's figures, each a ratio against a baseline measured in the same run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyBench } from './apply-layout.ts';
import { coldStart } from './cold-start.ts';
import { concurrentStarts } from './concurrent-starts.ts';
import { daemonHeap, daemonMemory } from './daemon-memory.ts';
import { daemonStatusBench } from './daemon-status.ts';
import { fuzzBench } from './fuzz.ts';
import { layoutCheckBench } from './layout-check.ts';
import { monitorRate } from './monitor-rate.ts';
import { planLayoutBench } from './plan-layout.ts';
import { qmIsolation } from './qm-isolation.ts';
import { qmPartition } from './qm-partition.ts';
import { startJobs } from './start-jobs.ts';

const benches: Record<string, () => Promise<void> | void> = {
  'apply-layout': () => applyBench(),
  'cold-start': () => coldStart(),
  'concurrent-starts': () => concurrentStarts(),
  'daemon-memory': async () => {
    await daemonMemory();
    await daemonHeap();
  },
  'daemon-status': () => daemonStatusBench(),
  'qm-partition': () => qmPartition(),
  'qm-isolation': () => qmIsolation(),
  'layout-check': () => layoutCheckBench(),
  'monitor-rate': () => monitorRate(),
  'plan-layout': () => planLayoutBench(),
  'start-jobs': () => startJobs(),
  fuzz: () => fuzzBench(),
};

// The qmctl and daemons timed read code caches as installed ones do (controller/bundle/launch.ts): root's, made by
// their first runs, in a directory of this run's own rather than the machine's /var/cache/qm.
const codeCaches = mkdtempSync(join(tmpdir(), 'qm-bench-code-cache-'));
process.env.QM_CODE_CACHE_DIR ??= codeCaches;
process.once('exit', () => rmSync(codeCaches, { recursive: true, force: true }));

const wanted = process.argv.slice(2);
for (const name of wanted.length > 0 ? wanted : Object.keys(benches)) {
  const bench = benches[name];
  if (!bench) throw new Error(`no bench ${name}; known: ${Object.keys(benches).join(', ')}`);
  await bench();
}
