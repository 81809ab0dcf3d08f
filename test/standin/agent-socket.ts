// The controller's side of the agents' connections: bluechi-controller's Unix socket (controller.c
// controller_setup_agent_listener, peer_bus_open_server) where each agent authenticates and calls
// org.eclipse.bluechi.internal.Controller.Register(name) (node.c node_method_register):
//   a name the controller does not know   → org.freedesktop.DBus.Error.ServiceUnknown "Unexpected node name"
//   a second Register on one connection   → org.freedesktop.DBus.Error.AddressInUse "Can't register twice"
//   a node whose agent is connected        → org.freedesktop.DBus.Error.AddressInUse "The node is already connected"
//   otherwise                              → an empty reply; the node is online until the connection closes.
// The SASL server answers as sd-bus's does (bus-socket.c): EXTERNAL with or without an initial response.
// Every connection and every Register is recorded, so a test sees what reached the controller. Test-only.
import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { marshall, unmarshall, type WireMessage } from 'dbus-next/lib/message.js';

export type AgentSocketEvent =
  | { readonly event: 'connected'; readonly connection: number }
  | { readonly event: 'register'; readonly connection: number; readonly name: string; readonly error?: string }
  | { readonly event: 'disconnected'; readonly connection: number; readonly name?: string };

export interface AgentSocketOptions {
  readonly path: string;
  /** Node names the controller allows (its AllowedNodeNames). */
  readonly nodes: readonly string[];
}

export interface AgentSocket {
  readonly events: readonly AgentSocketEvent[];
  /** Names whose agent is connected now. */
  online(): string[];
  /** Resolves once `condition` holds, checked now and after each event; rejects after `timeoutMs`. */
  until(condition: () => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const REGISTER_INTERFACE = 'org.eclipse.bluechi.internal.Controller';

export async function startAgentSocket(options: AgentSocketOptions): Promise<AgentSocket> {
  const events: AgentSocketEvent[] = [];
  const agents = new Map<string, Socket>();
  const sockets = new Set<Socket>();
  let connections = 0;
  const changes = new EventEmitter();
  const record = (event: AgentSocketEvent) => {
    events.push(event);
    changes.emit('change');
  };
  const server: Server = createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    record({ event: 'connected', connection });
    let name: string | undefined;
    let authenticated = false;
    let begun = false;
    let input: Buffer = Buffer.alloc(0);
    let serial = 0;
    const send = (message: Omit<WireMessage, 'serial'>) => socket.write(marshall({ ...message, serial: ++serial })[0]);

    const register = (call: WireMessage) => {
      const requested = String(call.body?.[0]);
      const answer = (errorName: string | undefined, text: string) => {
        record({ event: 'register', connection, name: requested, ...(errorName ? { error: `${errorName}: ${text}` } : {}) });
        if (errorName) send({ type: 3, replySerial: call.serial, errorName, signature: 's', body: [text] });
        else send({ type: 2, replySerial: call.serial });
      };
      if (name !== undefined) return answer('org.freedesktop.DBus.Error.AddressInUse', "Can't register twice");
      if (!options.nodes.includes(requested)) return answer('org.freedesktop.DBus.Error.ServiceUnknown', 'Unexpected node name');
      if (agents.has(requested)) return answer('org.freedesktop.DBus.Error.AddressInUse', 'The node is already connected');
      name = requested;
      agents.set(requested, socket);
      answer(undefined, '');
    };

    socket.on('data', (chunk: Buffer) => {
      input = Buffer.concat([input, chunk]);
      while (!begun) {
        if (!authenticated && input[0] === 0) input = input.subarray(1);
        const end = input.indexOf('\r\n');
        if (end < 0) return;
        const line = input.subarray(0, end).toString('latin1');
        input = input.subarray(end + 2);
        if (/^AUTH EXTERNAL [0-9a-f]+$/.test(line) || (line === 'DATA' && !authenticated)) {
          authenticated = true;
          socket.write(`OK ${'0'.repeat(32)}\r\n`);
        } else if (line === 'AUTH EXTERNAL') socket.write('DATA\r\n');
        else if (line === 'NEGOTIATE_UNIX_FD') socket.write('AGREE_UNIX_FD\r\n');
        else if (line === 'BEGIN' && authenticated) begun = true;
        else socket.write('REJECTED EXTERNAL\r\n');
      }
      while (input.length >= 16) {
        const little = input[0] === 0x6c;
        const fields = little ? input.readUInt32LE(12) : input.readUInt32BE(12);
        const length = 16 + Math.ceil(fields / 8) * 8 + (little ? input.readUInt32LE(4) : input.readUInt32BE(4));
        if (input.length < length) return;
        let message: WireMessage;
        try {
          message = unmarshall(input.subarray(0, length));
        } catch {
          // Bodiless messages throw in dbus-next's unmarshall; none of them is a Register call.
          message = { type: input[1]!, serial: 0 };
        }
        input = input.subarray(length);
        if (message.type === 1 && message.interface === REGISTER_INTERFACE && message.member === 'Register' && message.signature === 's') register(message);
        else if (message.type === 1 && name === undefined) {
          send({ type: 3, replySerial: message.serial, errorName: 'org.freedesktop.DBus.Error.UnknownObject', signature: 's', body: [`Unknown object '${message.path}'.`] });
        }
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      sockets.delete(socket);
      if (name !== undefined && agents.get(name) === socket) agents.delete(name);
      record({ event: 'disconnected', connection, ...(name ? { name } : {}) });
    });
  });
  await rm(options.path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.path, resolve);
  });
  return {
    events,
    online: () => [...agents.keys()],
    until: (condition, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (!condition()) return;
          clearTimeout(timer);
          changes.off('change', check);
          resolve();
        };
        const timer = setTimeout(() => {
          changes.off('change', check);
          reject(new Error(`the stand-in controller's connections did not reach the expected state within ${timeoutMs} ms: ${JSON.stringify(events.slice(-5))}`));
        }, timeoutMs);
        changes.on('change', check);
        check();
      }),
    stop: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
