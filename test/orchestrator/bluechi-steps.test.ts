// The executor's BlueChi effects against the stand-in: a job left running across a node's disconnect is
// waited for only as long as a job may take, and not at all once the user interrupts.
import test, { type ExecutionContext } from 'ava';
import { blueChi, type BlueChi } from '../../controller/bluechi/client.ts';
import { connectBus } from '../../controller/bus/connection.ts';
import { applyLayout, type ApplyResult } from '../../controller/orchestrator/apply.ts';
import type { StepReport } from '../../controller/orchestrator/execute.ts';
import { until } from '../daemon/harness.ts';
import { startPrivateBus } from '../support/dbus-daemon.ts';
import { startStandin, type Standin } from '../standin/index.ts';
import { layoutOf } from './fixtures.ts';

const layout = layoutOf('nodes:\n  a:\n    units:\n      slow.service: {}\n');
const JOB_MS = 4_000;

/** In memory, for its job latency: node a, whose jobs take JOB_MS. */
async function slowNode(t: ExecutionContext): Promise<{ standin: Standin; client: BlueChi }> {
  const bus = await startPrivateBus();
  t.teardown(() => bus.stop());
  const standin = await startStandin({ address: bus.address, nodes: [{ name: 'a', jobLatencyMs: JOB_MS, units: [{ name: 'slow.service' }] }] });
  t.teardown(() => standin.stop());
  const connection = await connectBus(bus.address);
  t.teardown(() => connection.close());
  return { standin, client: blueChi(connection, { jobTimeoutMs: 60_000 }) };
}


/** Once the node accepted the start, it disconnects and comes back while the job still runs on its systemd. */
async function bounceDuringJob(standin: Standin): Promise<void> {
  await until('the node accepted StartUnit', () => standin.calls('a').some((call) => call.method === 'StartUnit' && call.online));
  await standin.setOnline('a', false);
  await standin.setOnline('a', true);
}

const onlyReport = (result: ApplyResult): StepReport => {
  if (result.kind !== 'applied' || result.reports.length !== 1) throw new Error(`unexpected ${JSON.stringify(result)}`);
  return result.reports[0]!;
};

test('a job still running after the node came back is waited for only up to the job timeout, then the step ends timeout naming node and unit', async (t) => {
  const { standin, client } = await slowNode(t);
  const began = Date.now();
  const applying = applyLayout(client, layout, { timeoutMs: 1_000 });
  await bounceDuringJob(standin);
  const report = onlyReport(await applying);
  t.is(report.result, 'timeout');
  t.like(report.error, { code: 'timeout', origin: { node: 'a', unit: 'slow.service' } });
  t.true(Date.now() - began < JOB_MS, 'did not wait for the job to end');
});

test('an interrupt ends the wait for a job left running across a disconnect at once: the step ends canceled', async (t) => {
  const { standin, client } = await slowNode(t);
  const interrupt = new AbortController();
  const applying = applyLayout(client, layout, { timeoutMs: 60_000, signal: interrupt.signal });
  await bounceDuringJob(standin);
  await until('the unit is looked at again', () => standin.calls('a').some((call) => call.method === 'ListUnits'));
  const interrupted = Date.now();
  interrupt.abort();
  t.is(onlyReport(await applying).result, 'canceled');
  t.true(Date.now() - interrupted < 1_000);
});
