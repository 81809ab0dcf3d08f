// BlueChi's agent-to-controller connection as the gate sees it: D-Bus peer to peer (sd-bus `peer_bus_open`, no
// bus daemon), SASL first, then messages. The server's side of SASL and message framing are here; decoding and
// encoding messages are dbus-next's. Pure: bytes in, decisions out.
import { randomBytes } from 'node:crypto';
import { headerTypeName } from 'dbus-next/lib/constants.js';
import DBusBuffer from 'dbus-next/lib/dbus-buffer.js';
import { marshall, type WireMessage } from 'dbus-next/lib/message.js';

export type { WireMessage };

export const METHOD_CALL = 1;
export const METHOD_RETURN = 2;
export const ERROR = 3;

/** BlueChi's internal controller object (libbluechi/common/protocol.h), where an agent registers. */
export const REGISTER = {
  path: '/org/eclipse/bluechi/internal',
  interface: 'org.eclipse.bluechi.internal.Controller',
  member: 'Register',
  signature: 's',
} as const;

/** Longest SASL line accepted: sd-bus's own lines are under 100 bytes. */
const MAX_SASL_LINE = 512;
/** The D-Bus specification's limit on one message. */
export const MAX_MESSAGE = 128 * 1024 * 1024;

export type SaslStep =
  | { readonly kind: 'more' }
  | { readonly kind: 'begin'; readonly rest: Buffer }
  | { readonly kind: 'refuse'; readonly why: string };

/**
 * The server's side of D-Bus authentication (the specification's "Authentication protocol"), EXTERNAL only, as a
 * bus or sd-bus server answers a pipelined client: `AUTH EXTERNAL` without a response gets `DATA`, a response gets
 * `OK <guid>`, `NEGOTIATE_UNIX_FD` gets `ERROR` (the gate passes no descriptors), `BEGIN` ends it. The claimed
 * identity is not checked: who connects is settled by the socket's place (inside QM), what they may do by the gate.
 */
export class SaslServer {
  private buffered: Buffer = Buffer.alloc(0);
  private sawNul = false;
  private authenticated = false;
  private readonly guid = randomBytes(16).toString('hex');

  constructor(private readonly reply: (line: string) => void) {}

  feed(chunk: Buffer): SaslStep {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    if (!this.sawNul) {
      if (this.buffered.length === 0) return { kind: 'more' };
      if (this.buffered[0] !== 0) return { kind: 'refuse', why: 'did not open with the NUL byte of D-Bus authentication' };
      this.sawNul = true;
      this.buffered = this.buffered.subarray(1);
    }
    for (let end = this.buffered.indexOf('\r\n'); end >= 0; end = this.buffered.indexOf('\r\n')) {
      const line = this.buffered.subarray(0, end).toString('latin1');
      this.buffered = this.buffered.subarray(end + 2);
      const [command = '', ...args] = line.split(' ');
      if (command === 'BEGIN') {
        if (!this.authenticated) return { kind: 'refuse', why: 'sent BEGIN before authenticating' };
        return { kind: 'begin', rest: this.buffered };
      }
      this.answer(command, args);
    }
    if (this.buffered.length > MAX_SASL_LINE) return { kind: 'refuse', why: `sent an authentication line of over ${MAX_SASL_LINE} bytes` };
    return { kind: 'more' };
  }

  private answer(command: string, args: string[]): void {
    if (command === 'AUTH' && args[0] === 'EXTERNAL' && !this.authenticated) {
      if (args.length === 1) this.reply('DATA');
      else this.accept();
    } else if (command === 'DATA' && !this.authenticated) {
      this.accept();
    } else if (command === 'NEGOTIATE_UNIX_FD' && this.authenticated) {
      this.reply('ERROR passing file descriptors is not supported');
    } else if (command === 'AUTH' || command === 'CANCEL' || command === 'ERROR') {
      this.reply('REJECTED EXTERNAL');
    } else {
      this.reply('ERROR');
    }
  }

  private accept(): void {
    this.authenticated = true;
    this.reply(`OK ${this.guid}`);
  }
}

/**
 * The client's side of SASL EXTERNAL, pipelined as sd-bus's client sends it (bus-socket.c): AUTH and BEGIN in one
 * write, and the first message only after the server's OK. An sd-bus server that reads BEGIN and a message in one
 * read leaves the message unhandled until something else wakes it (seen with bluechi-controller 1.2.2).
 */
export function clientAuth(uid: number): string {
  return `\0AUTH EXTERNAL ${Buffer.from(String(uid), 'ascii').toString('hex')}\r\nBEGIN\r\n`;
}

/** The server's answer to clientAuth: its first line (OK <guid> when accepted) and what followed it, or undefined until complete. */
export function serverAnswer(buffer: Buffer): { accepted: boolean; line: string; rest: Buffer } | undefined {
  const end = buffer.indexOf('\r\n');
  if (end < 0) {
    if (buffer.length > MAX_SASL_LINE) return { accepted: false, line: buffer.subarray(0, 80).toString('latin1'), rest: Buffer.alloc(0) };
    return undefined;
  }
  const line = buffer.subarray(0, end).toString('latin1');
  return { accepted: line.startsWith('OK '), line, rest: buffer.subarray(end + 2) };
}

/**
 * The length of the message at the start of `buffer` (header, padded fields, body), or undefined while its fixed
 * header is incomplete. Throws on what is not a D-Bus message.
 */
export function messageLength(buffer: Buffer, limit = MAX_MESSAGE): number | undefined {
  if (buffer.length < 16) return undefined;
  const endian = buffer[0];
  if (endian !== 0x6c && endian !== 0x42) throw new Error(`not a D-Bus message (endianness byte 0x${endian!.toString(16)})`);
  if (buffer[3] !== 1) throw new Error(`D-Bus protocol version ${buffer[3]} (only 1 exists)`);
  const little = endian === 0x6c;
  const bodyLength = little ? buffer.readUInt32LE(4) : buffer.readUInt32BE(4);
  const fieldsLength = little ? buffer.readUInt32LE(12) : buffer.readUInt32BE(12);
  const length = 16 + Math.ceil(fieldsLength / 8) * 8 + bodyLength;
  if (length > limit) throw new Error(`a message of ${length} bytes (at most ${limit} here)`);
  return length;
}

/** Splits whole messages off the front of `buffer`: the messages (their exact bytes) and what is left. */
export function splitMessages(buffer: Buffer, limit = MAX_MESSAGE): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = [];
  let rest = buffer;
  for (let length = messageLength(rest, limit); length !== undefined && rest.length >= length; length = messageLength(rest, limit)) {
    messages.push(rest.subarray(0, length));
    rest = rest.subarray(length);
  }
  return { messages, rest };
}

/**
 * Decodes one whole message with dbus-next's reader. Not its `unmarshall`, which fails on a message without a
 * body signature (an empty method return, as Register's). Throws on malformed input.
 */
export function decode(bytes: Buffer): WireMessage {
  const reader = new DBusBuffer(bytes, 0, bytes[0]!, null, {});
  const [, type, flags, , , serial, fields] = reader.read('yyyyuua(yv)') as [number, number, number, number, number, number, Array<[number, [unknown, [unknown]]]>];
  const message: Record<string, unknown> = { type, flags, serial };
  for (const [code, [, [value]]] of fields) {
    const name = headerTypeName[code];
    if (name) message[name] = value;
  }
  if (typeof message.signature === 'string' && message.signature !== '') {
    reader.align(3);
    message.body = reader.read(message.signature);
  }
  return message as unknown as WireMessage;
}

/** The node name a message registers, or undefined when it is not BlueChi's Register call. */
export function registeredName(message: WireMessage): string | undefined {
  const isRegister =
    message.type === METHOD_CALL &&
    message.path === REGISTER.path &&
    message.interface === REGISTER.interface &&
    message.member === REGISTER.member &&
    message.signature === REGISTER.signature;
  const name = isRegister ? message.body?.[0] : undefined;
  return typeof name === 'string' ? name : undefined;
}

/** What a message is, for a log line: `method call org.x.Y.Member on /path`. */
export function describe(message: WireMessage): string {
  const kind = ['invalid', 'method call', 'method return', 'error', 'signal'][message.type] ?? `type ${message.type}`;
  const member = [message.interface, message.member].filter(Boolean).join('.');
  return [kind, member || message.errorName, message.path ? `on ${message.path}` : undefined].filter(Boolean).join(' ');
}

/** An error reply to `call`, as the controller would send one. */
export function errorReply(call: WireMessage, errorName: string, text: string): Buffer {
  return marshall({ type: ERROR, serial: 1, replySerial: call.serial, errorName, signature: 's', body: [text] })[0];
}

/** Whether `message` answers the call with serial `serial`. */
export function isReplyTo(message: WireMessage, serial: number): boolean {
  return (message.type === METHOD_RETURN || message.type === ERROR) && message.replySerial === serial;
}
