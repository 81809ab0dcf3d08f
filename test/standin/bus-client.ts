// A plain D-Bus client for the stand-in's tests: low-level method calls, AddMatch, and every signal
// that arrives recorded in order (dbus-next's proxy objects refcount match rules wrongly).
import dbus from 'dbus-next';
import type { Message as MessageType, MessageBus } from 'dbus-next';
import { BUS_NAME } from './api.ts';
import { addMatch, closeBus, openBus, uniqueName } from './bus.ts';

const { Message, MessageType: Type } = dbus;

export interface ReceivedSignal {
  readonly sender: string;
  readonly destination: string | undefined;
  readonly path: string;
  readonly interface: string;
  readonly member: string;
  readonly body: unknown[];
}

/** What a call answered: the body, or the D-Bus error name and text. */
export type Answer = { readonly ok: true; readonly body: unknown[] } | { readonly ok: false; readonly name: string; readonly text: string };

export class TestClient {
  readonly signals: ReceivedSignal[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(readonly bus: MessageBus) {
    bus.on('message', (message: MessageType) => {
      if (message.type !== Type.SIGNAL) return;
      this.signals.push({
        sender: message.sender,
        destination: message.destination || undefined,
        path: message.path,
        interface: message.interface,
        member: message.member,
        body: message.body ?? [],
      });
      for (const wake of this.waiters) wake();
    });
  }

  static async connect(address: string): Promise<TestClient> {
    return new TestClient(await openBus(address));
  }

  get name(): string {
    return uniqueName(this.bus);
  }

  match(rule: string): Promise<void> {
    return addMatch(this.bus, rule);
  }

  /** Signals from the stand-in: everything under /org/eclipse/bluechi, and the bus' NameOwnerChanged. */
  async watchBlueChi(): Promise<void> {
    await this.match("type='signal',path_namespace='/org/eclipse/bluechi'");
    await this.match(`type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='${BUS_NAME}'`);
  }

  async call(path: string, iface: string, member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    const reply = await this.bus.call(new Message({ destination: BUS_NAME, path, interface: iface, member, signature, body }));
    return reply?.body ?? [];
  }

  /** Like call, but resolves with the error instead of throwing it. */
  async ask(path: string, iface: string, member: string, signature = '', body: unknown[] = []): Promise<Answer> {
    try {
      return { ok: true, body: await this.call(path, iface, member, signature, body) };
    } catch (error) {
      const { type, text } = error as { type?: string; text?: string };
      if (type === undefined) throw error;
      return { ok: false, name: type, text: text ?? '' };
    }
  }

  async property(path: string, iface: string, name: string): Promise<unknown> {
    const [variant] = (await this.call(path, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [iface, name])) as [
      { value: unknown },
    ];
    return variant.value;
  }

  /** Forgets the signals received so far. */
  forget(): void {
    this.signals.length = 0;
  }

  /** The signals received so far that match. */
  received(member: string, filter: (signal: ReceivedSignal) => boolean = () => true): ReceivedSignal[] {
    return this.signals.filter((signal) => signal.member === member && filter(signal));
  }

  /** Waits for the `count`th signal (counting from the first ever received) that matches. */
  async waitFor(
    member: string,
    filter: (signal: ReceivedSignal) => boolean = () => true,
    { count = 1, timeoutMs = 5000 } = {},
  ): Promise<ReceivedSignal> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received(member, filter)[count - 1];
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.signals.map((signal) => `${signal.member}${JSON.stringify(signal.body, bigints)}`).join('\n  ');
        throw new Error(`no ${member} signal #${count} within ${timeoutMs} ms; received:\n  ${seen}`);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  close(): Promise<void> {
    return closeBus(this.bus);
  }
}

const bigints = (_key: string, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value);
