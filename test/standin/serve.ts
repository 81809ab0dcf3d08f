// Serves one interface spec (api.ts) on an object path with dbus-next's service API, and emits its signals.
import dbus from 'dbus-next';
import type { MessageBus } from 'dbus-next';
import { type InterfaceSpec, inSignature, outSignature, signalSignature } from './api.ts';

const { Message, Variant } = dbus;

export type Handler = (...args: never[]) => unknown;

/** What an object does: one function per method (may return a Promise, may throw DBusError), one getter per property. */
export interface ObjectImpl {
  readonly methods: Readonly<Record<string, Handler>>;
  readonly properties: Readonly<Record<string, () => unknown>>;
}

export interface ServedObject {
  readonly path: string;
  readonly spec: InterfaceSpec;
  /** Emits a signal of this interface; with `destination` it is unicast, as sd_bus_send_to does. */
  emit(signal: string, body: unknown[], destination?: string): void;
  /** Emits org.freedesktop.DBus.Properties.PropertiesChanged with the current values of `names`. */
  propertiesChanged(names: readonly string[]): void;
  unexport(): void;
}

export function serveObject(bus: MessageBus, path: string, spec: InterfaceSpec, impl: ObjectImpl): ServedObject {
  class Served extends dbus.interface.Interface {}
  const prototype = Served.prototype as unknown as Record<string, unknown>;
  const methods: Record<string, { inSignature: string; outSignature: string }> = {};
  for (const method of spec.methods) {
    const handler = impl.methods[method.name] as ((...args: unknown[]) => unknown) | undefined;
    if (!handler) throw new Error(`${spec.name}.${method.name} has no implementation`);
    prototype[method.name] = (...args: unknown[]) => handler(...args);
    methods[method.name] = { inSignature: inSignature(method), outSignature: outSignature(method) };
  }
  const properties: Record<string, { signature: string; access: 'read' }> = {};
  for (const property of spec.properties) {
    const getter = impl.properties[property.name];
    if (!getter) throw new Error(`${spec.name}.${property.name} has no getter`);
    Object.defineProperty(prototype, property.name, { get: getter });
    properties[property.name] = { signature: property.type, access: 'read' };
  }
  Served.configureMembers({ methods, properties });
  // dbus-next's own introspection drops argument names and annotations; upstream's XML has both.
  prototype.$introspect = () => introspection(spec);

  const iface = new Served(spec.name);
  bus.export(path, iface);
  let exported = true;

  return {
    path,
    spec,
    emit(name, body, destination) {
      const signal = spec.signals.find((candidate) => candidate.name === name);
      if (!signal) throw new Error(`${spec.name} has no signal ${name}`);
      if (!exported) return;
      const message = Message.newSignal(path, spec.name, name, signalSignature(signal), body);
      if (destination !== undefined) message.destination = destination;
      bus.send(message);
    },
    propertiesChanged(names) {
      if (!exported) return;
      const changed: Record<string, InstanceType<typeof Variant>> = {};
      for (const name of names) {
        const property = spec.properties.find((candidate) => candidate.name === name);
        if (!property) throw new Error(`${spec.name} has no property ${name}`);
        changed[name] = new Variant(property.type, impl.properties[name]!());
      }
      bus.send(
        Message.newSignal(path, 'org.freedesktop.DBus.Properties', 'PropertiesChanged', 'sa{sv}as', [
          spec.name,
          changed,
          [],
        ]),
      );
    },
    unexport() {
      if (!exported) return;
      exported = false;
      bus.unexport(path, iface);
    },
  };
}

/** The xml2js shape dbus-next builds introspection XML from. */
function introspection(spec: InterfaceSpec): unknown {
  const arg = (name: string, type: string, direction?: 'in' | 'out') => ({
    $: direction ? { name, type, direction } : { name, type },
  });
  const annotation = (name: string, value: string) => ({ $: { name, value } });
  return {
    $: { name: spec.name },
    method: spec.methods.map((method) => ({
      $: { name: method.name },
      arg: [
        ...method.in.map((a) => arg(a.name, a.type, 'in')),
        ...method.out.map((a) => arg(a.name, a.type, 'out')),
      ],
    })),
    signal: spec.signals.map((signal) => ({
      $: { name: signal.name },
      arg: signal.args.map((a) => arg(a.name, a.type)),
    })),
    property: spec.properties.map((property) => ({
      $: { name: property.name, type: property.type, access: 'read' },
      annotation: [annotation('org.freedesktop.DBus.Property.EmitsChangedSignal', property.emitsChanged)],
    })),
  };
}
