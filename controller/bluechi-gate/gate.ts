// qm-bluechi-gate: the only way from inside QM to the host's bluechi-controller. Without SELinux (BlueChi's
// RequiredSelinuxContext needs it) any QM process that reaches the controller's socket could register as any node
// the controller allows, an ASIL node among them whenever that node's agent is away, or open connections until
// the controller runs out of descriptors. The gate listens on a socket of its own, the only one mounted into QM,
// and passes a connection on only once it has authenticated and asked to register as QM's own node
// (qm.<host node name>, derived from the host agent's configuration as QM's agent.conf is). Nothing else a QM
// process sends reaches the controller before that registration has succeeded, and after it everything on the
// connection is that node's, as with any agent. QM gets at most `maxConnections` at once and a bounded rate of
// new ones, so a flood from QM costs the controller at most one registration attempt per token.
import { createConnection, type Server, type Socket, createServer } from 'node:net';
import { clientAuth, decode, describe, errorReply, isReplyTo, METHOD_CALL, METHOD_RETURN, registeredName, SaslServer, serverAnswer, splitMessages, type WireMessage } from './peer.ts';

export interface GateTarget {
  /** The only node name QM may register as. */
  readonly nodeName: string;
  /** The host controller's Unix socket. */
  readonly controllerSocket: string;
}

export interface GateLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface GateOptions {
  /** Looked up for each connection, so a changed host configuration needs no restart. Throws when there is none. */
  readonly target: () => Promise<GateTarget>;
  readonly log: GateLog;
  /** Connections from QM at once, registered or not. */
  readonly maxConnections?: number;
  /** New connections: a bucket of `burst` tokens, refilled at `perSecond`. */
  readonly burst?: number;
  readonly perSecond?: number;
  /** How long a connection may take to authenticate and register. */
  readonly registerTimeoutMs?: number;
  readonly now?: () => number;
}

/** Two: QM's agent, and its next connection while the controller still holds the last one. */
export const DEFAULT_MAX_CONNECTIONS = 2;
/** bluechi-agent retries every heartbeat (2 s by default); a few quick restarts still get through. */
export const DEFAULT_BURST = 5;
export const DEFAULT_PER_SECOND = 1;
export const DEFAULT_REGISTER_TIMEOUT_MS = 10_000;
/** A Register call is a few hundred bytes; nothing larger is read before registration. */
const MAX_UNREGISTERED_MESSAGE = 64 * 1024;
const ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied';
const NO_SERVER = 'org.freedesktop.DBus.Error.NoServer';

export interface GateCounts {
  /** Connections taken, refused at the door (too many, too fast), refused for what they sent, registered. */
  accepted: number;
  refusedAtDoor: number;
  refused: number;
  registered: number;
  open: number;
}

export interface Gate {
  readonly server: Server;
  readonly counts: Readonly<GateCounts>;
  close(): Promise<void>;
}

/** A gate serving `server`'s connections (listen on it, or pass a systemd socket's descriptor). */
export function createGate(options: GateOptions): Gate {
  const now = options.now ?? (() => performance.now());
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const burst = options.burst ?? DEFAULT_BURST;
  const perSecond = options.perSecond ?? DEFAULT_PER_SECOND;
  const counts: GateCounts = { accepted: 0, refusedAtDoor: 0, refused: 0, registered: 0, open: 0 };
  const sockets = new Set<Socket>();
  let tokens = burst;
  let filledAt = now();
  const doorLog = quietLog(options.log, now);

  const server = createServer({ pauseOnConnect: true }, (client) => {
    const at = now();
    tokens = Math.min(burst, tokens + ((at - filledAt) / 1000) * perSecond);
    filledAt = at;
    const why = counts.open >= maxConnections ? `${maxConnections} connections are open` : tokens < 1 ? `more than ${burst} connections at ${perSecond}/s` : undefined;
    if (why) {
      counts.refusedAtDoor++;
      doorLog(`refused a connection from QM: ${why}`);
      client.destroy();
      return;
    }
    tokens -= 1;
    counts.accepted++;
    counts.open++;
    sockets.add(client);
    client.once('close', () => {
      counts.open--;
      sockets.delete(client);
    });
    new Connection(client, options, counts).start();
  });
  return {
    server,
    counts,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One connection from QM, from authentication to registration; after that the gate only copies bytes. */
class Connection {
  private upstream: Socket | undefined;
  private pending: Buffer = Buffer.alloc(0);
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly client: Socket,
    private readonly options: GateOptions,
    private readonly counts: GateCounts,
  ) {
    this.timer = setTimeout(() => this.refuse(`it did not register within ${this.timeoutMs / 1000} s`), this.timeoutMs);
    client.once('close', () => this.end());
    client.on('error', () => this.end());
  }

  private get timeoutMs(): number {
    return this.options.registerTimeoutMs ?? DEFAULT_REGISTER_TIMEOUT_MS;
  }

  start(): void {
    const sasl = new SaslServer((line) => this.client.write(`${line}\r\n`));
    const onData = (chunk: Buffer) => {
      const step = sasl.feed(chunk);
      if (step.kind === 'refuse') return this.refuse(`it ${step.why}`);
      if (step.kind === 'begin') {
        this.client.off('data', onData);
        this.client.on('data', this.onUnregistered);
        this.onUnregistered(step.rest);
      }
    };
    this.client.on('data', onData);
    this.client.resume();
  }

  /** Before registration: the first message must be Register as QM's node; nothing is passed on until then. */
  private readonly onUnregistered = (chunk: Buffer): void => {
    this.pending = Buffer.concat([this.pending, chunk]);
    let split;
    try {
      split = splitMessages(this.pending, MAX_UNREGISTERED_MESSAGE);
    } catch (error) {
      return this.refuse(`it sent what the gate does not take: ${(error as Error).message}`);
    }
    const [first] = split.messages;
    if (!first) return;
    let message: WireMessage;
    try {
      message = decode(first);
    } catch (error) {
      return this.refuse(`it sent a malformed message: ${(error as Error).message}`);
    }
    this.client.off('data', this.onUnregistered);
    this.client.pause();
    this.pending = this.pending.subarray(first.length);
    void this.vet(message, first);
  };

  private async vet(message: WireMessage, bytes: Buffer): Promise<void> {
    let target: GateTarget;
    try {
      target = await this.options.target();
    } catch (error) {
      return this.refuse(`no controller to pass it to: ${(error as Error).message}`, message, NO_SERVER);
    }
    const name = registeredName(message);
    if (name === undefined) {
      return this.refuse(`it sent ${describe(message)} before registering; only ${target.nodeName}'s Register call is passed on`, message);
    }
    if (name !== target.nodeName) {
      return this.refuse(`it tried to register as ${JSON.stringify(name)}; from QM only ${target.nodeName} may register`, message);
    }
    this.connectUpstream(target, message, bytes);
  }

  private connectUpstream(target: GateTarget, register: WireMessage, bytes: Buffer): void {
    const upstream = createConnection(target.controllerSocket);
    this.upstream = upstream;
    const unreachable = (error: Error) => this.refuse(`the controller at ${target.controllerSocket} is unreachable: ${error.message}`, register, NO_SERVER);
    upstream.once('error', unreachable);
    upstream.once('close', () => this.end());
    upstream.once('connect', () => {
      upstream.write(clientAuth(process.getuid?.() ?? 0));
      let answer: Buffer = Buffer.alloc(0);
      const onAnswer = (chunk: Buffer) => {
        answer = Buffer.concat([answer, chunk]);
        const parsed = serverAnswer(answer);
        if (!parsed) return;
        upstream.off('data', onAnswer);
        if (!parsed.accepted) return this.refuse(`the controller refused the gate's authentication: ${parsed.line}`, register, NO_SERVER);
        upstream.off('error', unreachable);
        upstream.on('error', () => this.end());
        upstream.write(bytes);
        this.awaitRegistration(upstream, target, register, parsed.rest);
      };
      upstream.on('data', onAnswer);
    });
  }

  /** Passes the controller's messages to QM until the answer to Register: success opens the connection both ways. */
  private awaitRegistration(upstream: Socket, target: GateTarget, register: WireMessage, early: Buffer): void {
    let buffered: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      let split;
      try {
        split = splitMessages(buffered);
      } catch (error) {
        return this.refuse(`the controller sent what is not D-Bus: ${(error as Error).message}`);
      }
      buffered = split.rest;
      for (const [index, bytes] of split.messages.entries()) {
        let message: WireMessage;
        try {
          message = decode(bytes);
        } catch (error) {
          return this.refuse(`the controller sent a malformed message: ${(error as Error).message}`);
        }
        this.client.write(bytes);
        if (!isReplyTo(message, register.serial)) continue;
        upstream.off('data', onData);
        if (message.type !== METHOD_RETURN) {
          this.options.log.info(`the controller refused QM's registration as ${target.nodeName}: ${String(message.body?.[0] ?? message.errorName)}`);
          this.client.end();
          upstream.destroy();
          return;
        }
        this.registered(upstream, Buffer.concat([...split.messages.slice(index + 1), buffered]));
        return;
      }
    };
    upstream.on('data', onData);
    if (early.length > 0) onData(early);
  }

  private registered(upstream: Socket, fromController: Buffer): void {
    clearTimeout(this.timer);
    this.counts.registered++;
    if (fromController.length > 0) this.client.write(fromController);
    if (this.pending.length > 0) upstream.write(this.pending);
    this.pending = Buffer.alloc(0);
    this.client.pipe(upstream);
    upstream.pipe(this.client);
    this.client.resume();
  }

  /** Ends the connection: answers a call with an error first when there is one to answer. */
  private refuse(why: string, call?: WireMessage, errorName = ACCESS_DENIED): void {
    if (this.client.destroyed) return;
    this.counts.refused++;
    this.options.log.warn(`refused a connection from QM: ${why}`);
    if (call && call.type === METHOD_CALL && ((call.flags ?? 0) & 1) === 0) {
      this.client.end(errorReply(call, errorName, `qm-bluechi-gate: ${why}`));
    } else {
      this.client.end();
    }
    setTimeout(() => this.client.destroy(), 1000).unref();
    this.upstream?.destroy();
    clearTimeout(this.timer);
  }

  private end(): void {
    clearTimeout(this.timer);
    this.client.destroy();
    this.upstream?.destroy();
  }
}

/** At most one line a second about refused connections, with how many were refused since the last. */
function quietLog(log: GateLog, now: () => number): (line: string) => void {
  let lastAt = -Infinity;
  let quiet = 0;
  return (line) => {
    if (now() - lastAt < 1000) {
      quiet++;
      return;
    }
    log.warn(quiet > 0 ? `${line} (and ${quiet} more refused since the last report)` : line);
    lastAt = now();
    quiet = 0;
  };
}
