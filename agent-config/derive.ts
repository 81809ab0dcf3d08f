// The QM agent's settings from the host agent's: same settings, NodeName `qm.<host node name>`, and a
// controller address that works from inside QM's private network.
import { posix } from 'node:path';
import { error, warning, type Diagnostic } from './diagnostics.ts';
import { AGENT_KEY_NAMES, nodeNameCheck, parseBusAddresses } from './keys.ts';
import { BUILT_IN, type Section, type Setting } from './merge.ts';

/** Where the controller's Unix socket lives on the host (BlueChi's unix_domain_socket_path default). */
export const HOST_SOCKET_DIR = '/run/bluechi';
export const SOCKET_NAME = 'bluechi.sock';
/**
 * Where QM's agent reaches the controller: units/qm.container.d/20-bluechi-controller-socket.conf mounts the
 * gate's directory (GATE_SOCKET_DIR) here. qm-bluechi-gate passes only QM's own registration on to the host's
 * controller socket (controller/bluechi-gate). Not /run/bluechi: QM's own bluechi package has a
 * `D! /run/bluechi` tmpfiles line that would empty it.
 */
export const QM_SOCKET_DIR = '/run/bluechi-controller';
/** Where qm-bluechi-gate.socket listens on the host; only this directory is mounted into QM. */
export const GATE_SOCKET_DIR = '/run/qm/bluechi-gate';
export const QM_SOCKET_ADDRESS = `unix:path=${QM_SOCKET_DIR}/${SOCKET_NAME}`;

export type ControllerMode = 'auto' | 'unix' | 'tcp';

export interface DeriveOptions {
  /** The host's name, used when the host configuration sets no NodeName. */
  readonly hostname: string;
  /** Where `hostname` came from, for messages: e.g. `hostname` or `--hostname`. */
  readonly hostnameFrom?: string;
  readonly controller?: ControllerMode;
  /** The controller's address as reachable from inside QM (for tcp when the host's is loopback). */
  readonly controllerHost?: string;
}

export interface ControllerChoice {
  readonly via: 'unix' | 'tcp' | 'other';
  /** For `unix`: the host's controller socket, where qm-bluechi-gate passes QM's registration on. */
  readonly hostSocket?: string;
  /** The controller keys written into the QM's agent.conf, in order. */
  readonly settings: ReadonlyArray<readonly [key: string, value: string]>;
  /** Why, in one sentence, without line numbers (it goes into the generated file's header). */
  readonly reason: string;
}

export interface QmAgentConfig {
  readonly nodeName: string;
  /** Where the host node name came from, without line numbers. */
  readonly nodeNameFrom: string;
  readonly controller: ControllerChoice;
  /** What goes into the QM's agent.conf, in the order written; null writes `Key=` (no value). */
  readonly settings: ReadonlyMap<string, string | null>;
  readonly diagnostics: readonly Diagnostic[];
}

const CONTROLLER_KEYS = ['ControllerAddress', 'ControllerHost', 'ControllerPort'];
const DERIVED_KEYS = ['NodeName', ...CONTROLLER_KEYS];

export function deriveQmAgentConfig(host: Section, options: DeriveOptions): QmAgentConfig {
  const diagnostics: Diagnostic[] = [];
  const { nodeName, nodeNameFrom } = deriveNodeName(host, options, diagnostics);
  const controller = deriveController(host, options, diagnostics);

  const settings = new Map<string, string | null>([['NodeName', nodeName], ...controller.settings]);
  // Every other key the host's files set, known keys in documented order, then unknown ones by name.
  const passed = [...host].filter(([key, setting]) => setting.file !== BUILT_IN && !DERIVED_KEYS.includes(key));
  const rank = (key: string) => (AGENT_KEY_NAMES.includes(key) ? AGENT_KEY_NAMES.indexOf(key) : AGENT_KEY_NAMES.length);
  passed.sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  for (const [key, setting] of passed) settings.set(key, setting.value);

  return { nodeName, nodeNameFrom, controller, settings, diagnostics };
}

function deriveNodeName(host: Section, options: DeriveOptions, diagnostics: Diagnostic[]) {
  const setting = host.get('NodeName');
  let base: string;
  let nodeNameFrom: string;
  if (setting && setting.value !== null && setting.file !== BUILT_IN) {
    base = setting.value;
    nodeNameFrom = `the host's NodeName in ${setting.file}`;
  } else {
    if (setting && setting.value === null) {
      diagnostics.push(
        warning(setting.file, setting.line, 'NodeName', `empty: the host's bluechi-agent refuses to start without a name ("No agent name specified"); QM uses the ${options.hostnameFrom ?? 'hostname'} ${JSON.stringify(options.hostname)}`),
      );
    }
    base = options.hostname;
    nodeNameFrom = `the ${options.hostnameFrom ?? 'hostname'} (the host sets no NodeName)`;
  }
  const nodeName = `qm.${base}`;
  const problem = nodeNameCheck(nodeName);
  if (problem) {
    const where = setting && setting.file !== BUILT_IN && setting.value !== null ? setting : undefined;
    diagnostics.push(error(where?.file ?? `(${options.hostnameFrom ?? 'hostname'})`, where?.line, 'NodeName', `the QM agent's name ${problem}`));
  }
  return { nodeName, nodeNameFrom };
}

function unixSocket(reason: string, hostSocket = `${HOST_SOCKET_DIR}/${SOCKET_NAME}`): ControllerChoice {
  return { via: 'unix', hostSocket, settings: [['ControllerAddress', QM_SOCKET_ADDRESS]], reason: `the controller's Unix socket ${hostSocket}, through the gate mounted into QM at ${QM_SOCKET_DIR}: ${reason}` };
}

function deriveController(host: Section, options: DeriveOptions, diagnostics: Diagnostic[]): ControllerChoice {
  const mode = options.controller ?? 'auto';
  const address = present(host.get('ControllerAddress'));
  const hostSetting = present(host.get('ControllerHost'));
  const portSetting = host.get('ControllerPort');
  const isLocal = (name: string) => isLoopback(name) || name === options.hostname;

  const tcpTo = (target: string, reason: string): ControllerChoice => {
    if (portSetting && portSetting.value === null) {
      diagnostics.push(error(portSetting.file, portSetting.line, 'ControllerPort', 'empty: bluechi-agent would connect to port 0; set the port the controller listens on (default 842)'));
    }
    const port = portSetting?.value ?? '842';
    return { via: 'tcp', settings: [['ControllerHost', target], ['ControllerPort', port]], reason };
  };

  if (mode === 'unix') return unixSocket('chosen with --controller unix');
  if (options.controllerHost !== undefined) {
    if (isLoopback(options.controllerHost)) {
      diagnostics.push(error('(--controller-host)', undefined, 'ControllerHost', `${options.controllerHost} is a loopback address, which inside QM's private network is QM itself`));
    }
    return tcpTo(options.controllerHost, `TCP to ${options.controllerHost}, given with --controller-host`);
  }

  const loopbackReason = (what: string) => `the host's ${what} is a loopback address, which inside QM's private network means QM itself`;
  if (address) {
    const { transport, keys } = parseBusAddresses(address.value)?.[0] ?? { transport: '', keys: new Map<string, string>() };
    if (transport === 'unix') {
      const path = keys.get('path');
      if (path !== undefined && posix.dirname(path) === HOST_SOCKET_DIR) {
        if (mode === 'tcp') return tcpRequired(diagnostics, address, 'ControllerAddress', 'ControllerAddress is a Unix socket');
        return unixSocket(`the host's ControllerAddress`, path);
      }
      if (path !== undefined) {
        diagnostics.push(
          error(address.file, address.line, 'ControllerAddress', `the socket ${path} is outside ${HOST_SOCKET_DIR}, the directory the qm.container drop-in mounts into QM; give --controller tcp --controller-host ADDRESS, or --controller unix if the controller also listens on ${HOST_SOCKET_DIR}/${SOCKET_NAME}`),
        );
      }
      if (mode === 'tcp') return tcpRequired(diagnostics, address, 'ControllerAddress', 'ControllerAddress is a Unix socket');
      return unixSocket(`the host's ControllerAddress is an abstract or runtime Unix socket, which QM cannot reach`);
    }
    if (transport === 'tcp') {
      const target = keys.get('host') ?? '';
      if (!isLocal(target)) return { via: 'tcp', settings: [['ControllerAddress', address.value]], reason: `the host's ControllerAddress: ${target} is not a loopback address, so QM reaches it through its network` };
      if (mode === 'tcp') return tcpRequired(diagnostics, address, 'ControllerAddress', `ControllerAddress names ${target}`);
      return unixSocket(loopbackReason(`ControllerAddress host ${target}`));
    }
    diagnostics.push(warning(address.file, address.line, 'ControllerAddress', `transport "${transport}" passed to QM unchanged; check that it is reachable from inside QM`));
    return { via: 'other', settings: [['ControllerAddress', address.value]], reason: `the host's ControllerAddress, passed unchanged` };
  }

  if (hostSetting) {
    if (!isLocal(hostSetting.value)) return tcpTo(hostSetting.value, `the host's ControllerHost ${hostSetting.value} is not a loopback address, so QM reaches it through its network`);
    if (mode === 'tcp') return tcpRequired(diagnostics, hostSetting, 'ControllerHost', `ControllerHost ${hostSetting.value} is loopback`);
    const where = hostSetting.file === BUILT_IN ? `ControllerHost (default ${hostSetting.value})` : `ControllerHost ${hostSetting.value}`;
    return unixSocket(loopbackReason(where));
  }

  const empty = host.get('ControllerHost');
  if (empty) {
    diagnostics.push(warning(empty.file, empty.line, 'ControllerHost', `empty and no ControllerAddress: the host's bluechi-agent has no controller to connect to; QM uses the local controller's socket`));
  }
  if (mode === 'tcp') return tcpRequired(diagnostics, empty, 'ControllerHost', 'configuration names no controller');
  return unixSocket('the host names no controller');
}

function tcpRequired(diagnostics: Diagnostic[], setting: Setting | undefined, field: string, why: string): ControllerChoice {
  diagnostics.push(
    error(setting?.file ?? '(--controller)', setting?.line, field, `--controller tcp needs --controller-host: the host's ${why}, which QM cannot reach over TCP`),
  );
  return unixSocket(why);
}

type Present = Setting & { readonly value: string };
function present(setting: Setting | undefined): Present | undefined {
  return setting && setting.value !== null ? (setting as Present) : undefined;
}

/** Names and literals that mean "this machine": 127/8, ::1, the unspecified addresses, localhost. */
export function isLoopback(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (name === 'localhost' || name.endsWith('.localhost') || name === 'localhost.localdomain') return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name) || name === '0.0.0.0') return true;
  if (/^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)) return true;
  const groups = expandIpv6(name);
  return groups !== undefined && groups.slice(0, 7).every((group) => group === 0) && (groups[7] === 1 || groups[7] === 0);
}

function expandIpv6(name: string): number[] | undefined {
  if (!/^[0-9a-f:]+$/.test(name) || !name.includes(':')) return undefined;
  const [head = '', tail, extra] = name.split('::');
  if (extra !== undefined) return undefined;
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((group) => (/^[0-9a-f]{1,4}$/.test(group) ? parseInt(group, 16) : NaN)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const fill = 8 - left.length - right.length;
  if (tail === undefined ? fill !== 0 : fill < 1) return undefined;
  const groups = [...left, ...Array(tail === undefined ? 0 : fill).fill(0), ...right];
  return groups.some(Number.isNaN) ? undefined : groups;
}

