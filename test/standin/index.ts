// The BlueChi stand-in: a D-Bus service with bluechi-controller's public API and behaviour, over
// in-memory nodes or nodes backed by a real systemd. Test-only; see README.md beside this file.
import { setTimeout as delay } from 'node:timers/promises';
import { BUS_NAME } from './api.ts';
import { Agent } from './agent.ts';
import { type AgentApi, serveAgentApi } from './agent-api.ts';
import { Controller } from './controller.ts';
import { MemorySystemd, type UnitOptions } from './node-memory.ts';
import { BusSystemd } from './node-systemd.ts';
import { type NodeCall, type NodeConfig, nodePath } from './node.ts';
import { actOnNode, type NodeAction, readUnitState, type UnitState } from './on-node.ts';
import { writeUnitFiles } from './unit-files.ts';

export type { NodeCall } from './node.ts';
export type { UnitFileState, UnitOptions } from './node-memory.ts';
export type { NodeAction, UnitState } from './on-node.ts';
export { escapePathLabel } from './escape.ts';

export interface StandinNodeOptions {
  readonly name: string;
  /** Whether the node's agent is connected at start; default true. */
  readonly online?: boolean;
  /** How long an in-memory job runs before it ends; default 0. */
  readonly jobLatencyMs?: number;
  /** The in-memory node's units (all loaded); ignored for a systemd-backed node. */
  readonly units?: readonly UnitOptions[];
  /**
   * Back this node by a real systemd on the system bus at `address`, instead of in memory; `root` is the node's `/`
   * seen from here (a vehicle node's `root`), where writeUnitFile writes.
   */
  readonly systemd?: { readonly address: string; readonly root?: string };
  /** PeerIp while online; default ::ffff:127.0.0.1, as for an agent over TCP from localhost. */
  readonly peerIp?: string;
  /** The node's own bus: its agent serves org.eclipse.bluechi.Agent there, Status following setOnline (agent-api.ts). */
  readonly agentBus?: string;
}

export interface StandinOptions {
  /** The bus to serve org.eclipse.bluechi on. */
  readonly address: string;
  readonly nodes: readonly StandinNodeOptions[];
}

export interface RestartOptions {
  /** true (default): an orderly stop, with upstream's shutdown signals; false: a crash. */
  readonly graceful?: boolean;
  /** Time without an owner of org.eclipse.bluechi, before the new controller takes the name. */
  readonly downMs?: number;
}

export interface Standin {
  readonly address: string;
  readonly busName: string;
  /** The current controller connection's unique name; a restart changes it. */
  readonly uniqueName: string;
  /** /org/eclipse/bluechi/node/<escaped name>. */
  nodePath(node: string): string;
  /** Connects or disconnects the node's agent, with upstream's signals; survives restarts. */
  setOnline(node: string, online: boolean): Promise<void>;
  /** The next job on `unit` ends with systemd result `result` (failed, timeout, dependency, canceled…). In memory only. */
  failNext(node: string, unit: string, result?: string): void;
  /** Every job on `unit` ends with `result` until set to undefined. In memory only. */
  failAlways(node: string, unit: string, result: string | undefined): void;
  setJobLatency(node: string, ms: number): void;
  /** Changes a unit's state as if it happened on the node (a crash, an exit). In memory only. */
  setUnitState(node: string, unit: string, activeState: string, subState: string): void;
  /** In memory only, at once; readUnitState answers for either kind of node. */
  unitState(node: string, unit: string): UnitState | undefined;
  /** The unit's state as the node's systemd reports it (not through BlueChi, so also while the node is offline). */
  readUnitState(node: string, unit: string): Promise<UnitState>;
  /** Does to a unit on the node itself what someone there would (kill its main process, stop, start), on either kind of node. */
  onNode(node: string, unit: string, action: NodeAction): Promise<void>;
  /** Writes a unit file and its links on the node's disk, as an administrator would: no daemon-reload. */
  writeUnitFile(node: string, unit: UnitOptions): Promise<void>;
  /** Every org.eclipse.bluechi.Node call made on `node` so far, in order, including ones refused as Offline. */
  calls(node: string): readonly NodeCall[];
  clearCalls(): void;
  /** Stops the controller and starts a new one, as clients see a bluechi-controller restart. */
  restart(options?: RestartOptions): Promise<void>;
  stop(): Promise<void>;
}

interface StandinNode {
  readonly config: NodeConfig;
  readonly memory: MemorySystemd | undefined;
  /** A systemd-backed node's `/`, when given. */
  readonly root: string | undefined;
  readonly api: AgentApi | undefined;
  online: boolean;
}

export async function startStandin(options: StandinOptions): Promise<Standin> {
  const names = options.nodes.map((node) => node.name);
  if (new Set(names).size !== names.length) throw new Error(`node names must be unique: ${names.join(', ')}`);
  const nodes = new Map<string, StandinNode>();
  try {
    for (const node of options.nodes) nodes.set(node.name, await startNode(node));
  } catch (error) {
    await Promise.all([...nodes.values()].map(async (node) => {
      await node.api?.stop();
      await node.config.agent.close();
    }));
    throw error;
  }
  const configs = [...nodes.values()].map((node) => node.config);
  let controller = await startController(options.address, configs, nodes);
  let stopped = false;

  const nodeNamed = (name: string): StandinNode => {
    const node = nodes.get(name);
    if (!node) throw new Error(`no node ${name} (nodes: ${names.join(', ')})`);
    return node;
  };
  const memoryOf = (name: string): MemorySystemd => {
    const memory = nodeNamed(name).memory;
    if (!memory) throw new Error(`node ${name} is backed by a real systemd; this control is for in-memory nodes`);
    return memory;
  };

  return {
    address: options.address,
    busName: BUS_NAME,
    get uniqueName() {
      return controller.uniqueName;
    },
    nodePath,
    async setOnline(name, online) {
      const node = nodeNamed(name);
      node.online = online;
      if (online) controller.node(name).connect();
      else controller.node(name).disconnect();
      node.api?.setOnline(online);
    },
    failNext(node, unit, result = 'failed') {
      memoryOf(node).failNext(unit, result);
    },
    failAlways(node, unit, result) {
      memoryOf(node).failAlways(unit, result);
    },
    setJobLatency(node, ms) {
      memoryOf(node).latencyMs = ms;
    },
    setUnitState(node, unit, activeState, subState) {
      memoryOf(node).setUnitState(unit, activeState, subState);
    },
    unitState(node, unit) {
      return memoryOf(node).unitState(unit);
    },
    readUnitState(node, unit) {
      return readUnitState(nodeNamed(node).config.agent.systemd, unit);
    },
    onNode(node, unit, action) {
      return actOnNode(nodeNamed(node).config.agent.systemd, unit, action);
    },
    async writeUnitFile(node, unit) {
      const standinNode = nodeNamed(node);
      if (standinNode.memory) return standinNode.memory.writeUnitFile(unit);
      if (!standinNode.root) throw new Error(`node ${node}: give systemd.root to write its unit files`);
      await writeUnitFiles(standinNode.root, unit.name, unit);
    },
    calls(node) {
      return [...nodeNamed(node).config.calls];
    },
    clearCalls() {
      for (const node of nodes.values()) node.config.calls.length = 0;
    },
    async restart({ graceful = true, downMs = 0 } = {}) {
      await controller.shutdown(graceful);
      if (downMs > 0) await delay(downMs);
      controller = await startController(options.address, configs, nodes);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await controller.shutdown(true);
      await Promise.all([...nodes.values()].map(async (node) => {
        await node.api?.stop();
        await node.config.agent.close();
      }));
    },
  };
}

async function startNode(options: StandinNodeOptions): Promise<StandinNode> {
  const memory = options.systemd ? undefined : new MemorySystemd(options.units ?? [], options.jobLatencyMs ?? 0);
  const systemd = memory ?? (await BusSystemd.connect(options.systemd!.address));
  const agent = await Agent.start(systemd);
  const online = options.online ?? true;
  let api: AgentApi | undefined;
  try {
    api = options.agentBus === undefined ? undefined : await serveAgentApi(options.agentBus, { online });
  } catch (error) {
    await agent.close();
    throw error;
  }
  return {
    config: { name: options.name, agent, peerIp: options.peerIp ?? '::ffff:127.0.0.1', calls: [] },
    memory,
    root: options.systemd?.root,
    api,
    online,
  };
}

/** A controller starts with every node offline; the agents that should be connected then register. */
async function startController(
  address: string,
  configs: readonly NodeConfig[],
  nodes: ReadonlyMap<string, StandinNode>,
): Promise<Controller> {
  const controller = await Controller.start(address, configs);
  for (const node of nodes.values()) if (node.online) controller.node(node.config.name).connect();
  return controller;
}
