// dbus-next's wire-format modules, which the gate uses directly: the package exports a bus
// client only, and the gate speaks BlueChi's peer-to-peer protocol (no bus daemon, no Hello).
declare module 'dbus-next/lib/message.js' {
  export interface WireMessage {
    type: number;
    flags?: number;
    serial: number;
    path?: string;
    interface?: string;
    member?: string;
    errorName?: string;
    replySerial?: number;
    destination?: string;
    sender?: string;
    signature?: string;
    body?: unknown[];
  }
  /** Decodes one whole message. Throws on malformed input, and on a message that has no body signature. */
  export function unmarshall(buffer: Buffer): WireMessage;
  /** Encodes a message, little-endian: its bytes and the descriptors it carries. */
  export function marshall(message: WireMessage): [Buffer, number[]];
}

declare module 'dbus-next/lib/dbus-buffer.js' {
  /** A reader of D-Bus wire data: `read(signature)` returns the values, in order. Throws on malformed input. */
  export default class DBusBuffer {
    constructor(buffer: Buffer, start: number, endian: number, fds: null, options: object);
    read(signature: string): unknown[];
    align(power: number): void;
  }
}

declare module 'dbus-next/lib/constants.js' {
  export const headerTypeName: ReadonlyArray<string | null>;
}
