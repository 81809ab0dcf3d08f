// One agent's public API on its node's bus: org.eclipse.bluechi.Agent on /org/eclipse/bluechi, which
// bluechi-is-online agent reads. After upstream's src/agent/agent.c: agent_vtable (members), agent_start (takes
// the name with SD_BUS_NAME_REPLACE_EXISTING), agent_property_get_status (agent_is_online: "online" or "offline"),
// and the PropertiesChanged(Status) it emits when its connection to the controller comes and goes
// (agent_connected, agent_disconnected). Proxies and SwitchController are not modelled: they fail.
import dbus from 'dbus-next';
import type { MessageBus } from 'dbus-next';
import { AGENT_BUS_NAME, AGENT_PATH, agentInterface, Errors } from './api.ts';
import { closeBus, openBus } from './bus.ts';
import { serveObject } from './serve.ts';

const { DBusError, NameFlag, RequestNameReply } = dbus;

export interface AgentApi {
  readonly address: string;
  /** The agent's connection to the controller came or went: Status and its PropertiesChanged follow. */
  setOnline(online: boolean): void;
  stop(): Promise<void>;
}

const micros = (): bigint => BigInt(Date.now()) * 1000n;
const monotonicMicros = (): bigint => process.hrtime.bigint() / 1000n;
const unsupported = () => {
  throw new DBusError(Errors.failed, 'not modelled by the BlueChi stand-in');
};

export async function serveAgentApi(address: string, { online, controllerAddress = 'unix:path=/run/bluechi/bluechi.sock' }: { online: boolean; controllerAddress?: string }): Promise<AgentApi> {
  const bus: MessageBus = await openBus(address);
  let connected = online;
  let disconnected = online ? [0n, 0n] : [micros(), monotonicMicros()];
  let lastSeen = online ? [micros(), monotonicMicros()] : [0n, 0n];
  const served = serveObject(bus, AGENT_PATH, agentInterface, {
    methods: { CreateProxy: unsupported, RemoveProxy: unsupported, JobCancel: unsupported, SwitchController: unsupported },
    properties: {
      Status: () => (connected ? 'online' : 'offline'),
      LogLevel: () => 'INFO',
      LogTarget: () => 'journald',
      DisconnectTimestamp: () => disconnected[0],
      DisconnectTimestampMonotonic: () => disconnected[1],
      LastSeenTimestamp: () => lastSeen[0],
      LastSeenTimestampMonotonic: () => lastSeen[1],
      ControllerAddress: () => controllerAddress,
    },
  });
  const reply = await bus.requestName(AGENT_BUS_NAME, NameFlag.REPLACE_EXISTING);
  if (reply !== RequestNameReply.PRIMARY_OWNER && reply !== RequestNameReply.ALREADY_OWNER) {
    await closeBus(bus);
    throw new Error(`could not own ${AGENT_BUS_NAME} on ${address} (RequestName answered ${reply})`);
  }
  return {
    address,
    setOnline(now) {
      if (now === connected) return;
      connected = now;
      if (now) {
        disconnected = [0n, 0n];
        lastSeen = [micros(), monotonicMicros()];
      } else disconnected = [micros(), monotonicMicros()];
      served.propertiesChanged(['Status']);
    },
    async stop() {
      served.unexport();
      await closeBus(bus);
    },
  };
}
