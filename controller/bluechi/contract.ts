// BlueChi 1.2's public D-Bus API as the product uses it, declared once: every member's signatures.
// The bus edge checks replies and signals against these; test/contract checks them against what a real
// bluechi-controller answers to Introspect.
import { declareInterface, method } from '../bus/signature.ts';

export const ControllerInterface = declareInterface({
  name: 'org.eclipse.bluechi.Controller',
  methods: {
    ListUnits: method('', 'a{sa(ssssssouso)}'),
    ListUnitFiles: method('', 'a{sa(ss)}'),
    ListNodes: method('', 'a(soss)'),
    GetNode: method('s', 'o'),
    CreateMonitor: method('', 'o'),
    EnableMetrics: method('', ''),
    DisableMetrics: method('', ''),
    SetLogLevel: method('s', ''),
  },
  signals: { JobNew: 'uo', JobRemoved: 'uosss' },
  properties: { Status: 's', LogLevel: 's', LogTarget: 's' },
});

export const NodeInterface = declareInterface({
  name: 'org.eclipse.bluechi.Node',
  methods: {
    StartUnit: method('ss', 'o'),
    StopUnit: method('ss', 'o'),
    RestartUnit: method('ss', 'o'),
    ReloadUnit: method('ss', 'o'),
    StartTransientUnit: method('ssa(sv)a(sa(sv))', 'o'),
    FreezeUnit: method('s', ''),
    ThawUnit: method('s', ''),
    KillUnit: method('ssi', ''),
    GetUnitProperties: method('ss', 'a{sv}'),
    GetUnitProperty: method('sss', 'v'),
    SetUnitProperties: method('sba(sv)', ''),
    EnableUnitFiles: method('asbb', 'ba(sss)'),
    DisableUnitFiles: method('asb', 'a(sss)'),
    ListUnits: method('', 'a(ssssssouso)'),
    ListUnitFiles: method('', 'a(ss)'),
    GetUnitFileState: method('s', 's'),
    Reload: method('', ''),
    SetLogLevel: method('s', ''),
    ResetFailed: method('', ''),
    ResetFailedUnit: method('s', ''),
    GetDefaultTarget: method('', 's'),
    SetDefaultTarget: method('sb', 'a(sss)'),
  },
  signals: {},
  properties: { Name: 's', Status: 's', PeerIp: 's', LastSeenTimestamp: 't', LastSeenTimestampMonotonic: 't' },
});

export const JobInterface = declareInterface({
  name: 'org.eclipse.bluechi.Job',
  methods: { Cancel: method('', '') },
  signals: {},
  properties: { Id: 'u', Node: 's', Unit: 's', JobType: 's', State: 's' },
});

export const MonitorInterface = declareInterface({
  name: 'org.eclipse.bluechi.Monitor',
  methods: {
    Close: method('', ''),
    Subscribe: method('ss', 'u'),
    Unsubscribe: method('u', ''),
    SubscribeList: method('sas', 'u'),
    AddPeer: method('s', 'u'),
    RemovePeer: method('us', ''),
  },
  signals: {
    UnitPropertiesChanged: 'sssa{sv}',
    UnitStateChanged: 'sssss',
    UnitNew: 'sss',
    UnitRemoved: 'sss',
    PeerRemoved: 's',
  },
  properties: {},
});

/** Served only while metrics are enabled, so the recording (made without) has no introspection of it: upstream's data/org.eclipse.bluechi.Metrics.xml. */
export const MetricsInterface = declareInterface({
  name: 'org.eclipse.bluechi.Metrics',
  methods: {},
  signals: { StartUnitJobMetrics: 'ssstt', AgentJobMetrics: 'ssst' },
  properties: {},
});

/** The agent's API on its node's bus, as far as the product reads it (upstream's data/org.eclipse.bluechi.Agent.xml). */
export const AgentInterface = declareInterface({
  name: 'org.eclipse.bluechi.Agent',
  methods: {},
  signals: {},
  properties: { Status: 's' },
});
