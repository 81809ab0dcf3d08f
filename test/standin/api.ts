// BlueChi's public D-Bus API as data, transcribed from upstream's introspection XML
// (data/org.eclipse.bluechi.{Controller,Node,Job,Monitor,Metrics}.xml) and protocol.h, and served as a running
// bluechi-controller 1.2.2 introspects (its sd-bus vtables: test/contract/recorded/introspect/): methods
// privileged with unnamed arguments, some properties explicit (left out of GetAll).

export const BUS_NAME = 'org.eclipse.bluechi';
export const CONTROLLER_PATH = '/org/eclipse/bluechi';
export const NODE_PATH_PREFIX = '/org/eclipse/bluechi/node';
export const JOB_PATH_PREFIX = '/org/eclipse/bluechi/job';
export const MONITOR_PATH_PREFIX = '/org/eclipse/bluechi/monitor';
export const METRICS_PATH = '/org/eclipse/bluechi/metrics';

export const CONTROLLER_INTERFACE = 'org.eclipse.bluechi.Controller';
export const NODE_INTERFACE = 'org.eclipse.bluechi.Node';
export const JOB_INTERFACE = 'org.eclipse.bluechi.Job';
export const MONITOR_INTERFACE = 'org.eclipse.bluechi.Monitor';
export const METRICS_INTERFACE = 'org.eclipse.bluechi.Metrics';
/** The agent's public API on its node's bus (protocol.h: BC_AGENT_DBUS_NAME, BC_AGENT_OBJECT_PATH, AGENT_INTERFACE). */
export const AGENT_BUS_NAME = 'org.eclipse.bluechi.Agent';
export const AGENT_PATH = '/org/eclipse/bluechi';
export const AGENT_INTERFACE = 'org.eclipse.bluechi.Agent';

/** Error names the controller itself replies with (protocol.h and sd-bus' standard names). */
export const Errors = {
  offline: 'org.eclipse.bluechi.Offline',
  failed: 'org.freedesktop.DBus.Error.Failed',
  invalidArgs: 'org.freedesktop.DBus.Error.InvalidArgs',
  serviceUnknown: 'org.freedesktop.DBus.Error.ServiceUnknown',
  inconsistentMessage: 'org.freedesktop.DBus.Error.InconsistentMessage',
  unknownObject: 'org.freedesktop.DBus.Error.UnknownObject',
  unknownMethod: 'org.freedesktop.DBus.Error.UnknownMethod',
  noReply: 'org.freedesktop.DBus.Error.NoReply',
} as const;

export interface ArgSpec {
  readonly name: string;
  readonly type: string;
}

export interface MethodSpec {
  readonly name: string;
  readonly in: readonly ArgSpec[];
  readonly out: readonly ArgSpec[];
}

export interface SignalSpec {
  readonly name: string;
  readonly args: readonly ArgSpec[];
  /** How many of `args` the introspection declares, where upstream's vtable declares fewer than it sends. */
  readonly declared?: number;
}

/**
 * `emitsChanged` is the value of the org.freedesktop.DBus.Property.EmitsChangedSignal annotation (sd-bus writes
 * none for the default, true); an `explicit` property (SD_BUS_VTABLE_PROPERTY_EXPLICIT) is left out of GetAll.
 */
export interface PropertySpec {
  readonly name: string;
  readonly type: string;
  readonly emitsChanged: 'true' | 'false' | 'const';
  readonly explicit?: boolean;
}

export interface InterfaceSpec {
  readonly name: string;
  readonly methods: readonly MethodSpec[];
  readonly signals: readonly SignalSpec[];
  readonly properties: readonly PropertySpec[];
}

/** Parses `name:type name:type` (types never contain spaces or colons). */
function args(text: string): ArgSpec[] {
  return text
    .split(' ')
    .filter((word) => word !== '')
    .map((word) => {
      const [name = '', type = ''] = word.split(':');
      return { name, type };
    });
}

const method = (name: string, input = '', output = ''): MethodSpec => ({ name, in: args(input), out: args(output) });
const signal = (name: string, list = '', declared?: number): SignalSpec => ({ name, args: args(list), ...(declared === undefined ? {} : { declared }) });
const property = (name: string, type: string, emitsChanged: PropertySpec['emitsChanged'], explicit = false): PropertySpec => ({
  name,
  type,
  emitsChanged,
  ...(explicit ? { explicit } : {}),
});

/** The full in-signature of a method, e.g. `ss` for StartUnit. */
export const inSignature = (spec: MethodSpec): string => spec.in.map((arg) => arg.type).join('');
export const outSignature = (spec: MethodSpec): string => spec.out.map((arg) => arg.type).join('');
export const signalSignature = (spec: SignalSpec): string => spec.args.map((arg) => arg.type).join('');

export const controllerInterface: InterfaceSpec = {
  name: CONTROLLER_INTERFACE,
  methods: [
    method('ListUnits', '', 'units:a{sa(ssssssouso)}'),
    method('ListUnitFiles', '', 'unitfiles:a{sa(ss)}'),
    method('ListNodes', '', 'nodes:a(soss)'),
    method('GetNode', 'name:s', 'path:o'),
    method('CreateMonitor', '', 'monitor:o'),
    method('EnableMetrics'),
    method('DisableMetrics'),
    method('SetLogLevel', 'loglevel:s'),
  ],
  signals: [signal('JobNew', 'id:u job:o'), signal('JobRemoved', 'id:u job:o node:s unit:s result:s')],
  properties: [
    property('Status', 's', 'true'),
    property('LogLevel', 's', 'false', true),
    property('LogTarget', 's', 'const'),
  ],
};

export const nodeInterface: InterfaceSpec = {
  name: NODE_INTERFACE,
  methods: [
    method('StartUnit', 'name:s mode:s', 'job:o'),
    method('StartTransientUnit', 'name:s mode:s props:a(sv) aux:a(sa(sv))', 'job:o'),
    method('StopUnit', 'name:s mode:s', 'job:o'),
    method('FreezeUnit', 'name:s'),
    method('ThawUnit', 'name:s'),
    method('ReloadUnit', 'name:s mode:s', 'job:o'),
    method('RestartUnit', 'name:s mode:s', 'job:o'),
    method('KillUnit', 'name:s who:s signal:i'),
    method('GetUnitProperties', 'name:s interface:s', 'props:a{sv}'),
    method('GetUnitProperty', 'name:s interface:s property:s', 'value:v'),
    method('SetUnitProperties', 'name:s runtime:b keyvalues:a(sv)'),
    method('EnableUnitFiles', 'files:as runtime:b force:b', 'carries_install_info:b changes:a(sss)'),
    method('DisableUnitFiles', 'files:as runtime:b', 'changes:a(sss)'),
    method('ListUnits', '', 'units:a(ssssssouso)'),
    method('ListUnitFiles', '', 'unitfiles:a(ss)'),
    method('GetUnitFileState', 'file:s', 'state:s'),
    method('Reload'),
    method('SetLogLevel', 'level:s'),
    method('ResetFailed'),
    method('ResetFailedUnit', 'name:s'),
    method('GetDefaultTarget', '', 'defaulttarget:s'),
    method('SetDefaultTarget', 'defaulttarget:s force:b', 'out:a(sss)'),
  ],
  signals: [],
  properties: [
    property('Name', 's', 'const'),
    property('Status', 's', 'true'),
    property('PeerIp', 's', 'false', true),
    property('LastSeenTimestamp', 't', 'false', true),
    property('LastSeenTimestampMonotonic', 't', 'false', true),
  ],
};

export const jobInterface: InterfaceSpec = {
  name: JOB_INTERFACE,
  methods: [method('Cancel')],
  signals: [],
  properties: [
    property('Id', 'u', 'const'),
    property('Node', 's', 'const'),
    property('Unit', 's', 'const'),
    property('JobType', 's', 'const'),
    property('State', 's', 'true'),
  ],
};

export const monitorInterface: InterfaceSpec = {
  name: MONITOR_INTERFACE,
  methods: [
    method('Close'),
    method('Subscribe', 'node:s unit:s', 'id:u'),
    method('Unsubscribe', 'id:u'),
    method('SubscribeList', 'node:s units:as', 'id:u'),
    method('AddPeer', 'name:s', 'id:u'),
    method('RemovePeer', 'id:u reason:s'),
  ],
  // UnitNew/UnitRemoved carry a reason: the XML and the emitted messages say `sss`, but upstream's sd-bus
  // vtable declares two arguments, and that is what the running controller introspects.
  signals: [
    signal('UnitPropertiesChanged', 'node:s unit:s interface:s properties:a{sv}'),
    signal('UnitStateChanged', 'node:s unit:s active_state:s substate:s reason:s'),
    signal('UnitNew', 'node:s unit:s reason:s', 2),
    signal('UnitRemoved', 'node:s unit:s reason:s', 2),
    signal('PeerRemoved', 'reason:s'),
  ],
  properties: [],
};

export const metricsInterface: InterfaceSpec = {
  name: METRICS_INTERFACE,
  methods: [],
  signals: [
    signal(
      'StartUnitJobMetrics',
      'node_name:s job_id:s unit:s job_measured_time_micros:t unit_start_prop_time_micros:t',
    ),
    signal('AgentJobMetrics', 'node_name:s unit:s method:s systemd_job_time_micros:t'),
  ],
  properties: [],
};

/**
 * The agent's public interface as its sd-bus vtable serves it (src/agent/agent.c, agent_vtable), which has JobCancel
 * beside data/org.eclipse.bluechi.Agent.xml's methods, and marks the timestamps and LogLevel explicit.
 */
export const agentInterface: InterfaceSpec = {
  name: AGENT_INTERFACE,
  methods: [
    method('CreateProxy', 'local_service_name:s node:s unit:s'),
    method('RemoveProxy', 'local_service_name:s node:s unit:s'),
    method('JobCancel', 'id:u'),
    method('SwitchController', 'dbus_address:s'),
  ],
  signals: [],
  properties: [
    property('Status', 's', 'true'),
    property('LogLevel', 's', 'false', true),
    property('LogTarget', 's', 'const'),
    property('DisconnectTimestamp', 't', 'false', true),
    property('DisconnectTimestampMonotonic', 't', 'false', true),
    property('LastSeenTimestamp', 't', 'false', true),
    property('LastSeenTimestampMonotonic', 't', 'false', true),
    property('ControllerAddress', 's', 'true'),
  ],
};
