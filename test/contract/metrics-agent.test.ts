// The two interfaces the recording could not show: org.eclipse.bluechi.Metrics (served only while metrics are
// enabled; recorded/ was made with them disabled, so its controller introspects without it) and the agent's
// org.eclipse.bluechi.Agent (on a node's bus, not the controller's). What the product declares of them is checked
// against the stand-in's transcription of upstream (data/*.xml, metrics.c's and agent.c's vtables) as served.
import test from 'ava';
import { AgentInterface, MetricsInterface } from '../../controller/bluechi/contract.ts';
import { connectBus, type Bus } from '../../controller/bus/connection.ts';
import { startPrivateBus, type PrivateBus } from '../support/dbus-daemon.ts';
import { startStandin, type Standin } from '../standin/index.ts';
import { declarationDifferences, parseIntrospection, recordedInterfaces } from './introspection.ts';

let buses: PrivateBus[] = [];
let standin: Standin | undefined;
let clients: Bus[] = [];

test.before(async () => {
  buses = await Promise.all([startPrivateBus(), startPrivateBus()]);
  standin = await startStandin({ address: buses[0]!.address, nodes: [{ name: 'node1', agentBus: buses[1]!.address, units: [{ name: 'qm-test.service' }] }] });
  clients = await Promise.all(buses.map((bus) => connectBus(bus.address)));
});
test.after.always(async () => {
  for (const client of clients) client.close();
  await standin?.stop();
  await Promise.all(buses.map((bus) => bus.stop()));
});

async function introspect(client: Bus, destination: string, path: string) {
  const [xml] = await client.call({ destination, path, interface: 'org.freedesktop.DBus.Introspectable', member: 'Introspect' });
  return parseIntrospection(String(xml));
}

test('Metrics: recorded without it; served on /org/eclipse/bluechi/metrics once enabled, as declared', async (t) => {
  t.false((await recordedInterfaces('bluechi-controller.xml')).has(MetricsInterface.name), 'recorded with metrics disabled');
  const [controller] = clients;
  const call = (member: string) => controller!.call({ destination: 'org.eclipse.bluechi', path: '/org/eclipse/bluechi', interface: 'org.eclipse.bluechi.Controller', member });
  t.false((await introspect(controller!, 'org.eclipse.bluechi', '/org/eclipse/bluechi')).has(MetricsInterface.name));
  await call('EnableMetrics');
  t.teardown(() => call('DisableMetrics').catch(() => undefined));
  const served = await introspect(controller!, 'org.eclipse.bluechi', '/org/eclipse/bluechi/metrics');
  t.deepEqual(declarationDifferences(MetricsInterface, served.get(MetricsInterface.name)), []);
  t.deepEqual(
    [...served.get(MetricsInterface.name)!.signals.get('StartUnitJobMetrics')!.args].map((arg) => arg.name),
    ['node_name', 'job_id', 'unit', 'job_measured_time_micros', 'unit_start_prop_time_micros'],
  );
});

test('Agent: what the product reads of it (Status) is what the stand-in agent serves on its node bus', async (t) => {
  const served = await introspect(clients[1]!, 'org.eclipse.bluechi.Agent', '/org/eclipse/bluechi');
  t.deepEqual(declarationDifferences(AgentInterface, served.get(AgentInterface.name)), []);
});
