// The keys bluechi-agent reads from its [bluechi-agent] section, their built-in defaults, and
// which values it would refuse or misread (BlueChi: src/agent/agent.c agent_apply_config,
// src/libbluechi/common/cfg.c cfg_agent_def_conf, parse-util.c, socket.c, log/log.c).
import { quote, QUOTE_MAX } from '../controller/quote.ts';
import { nodeNameProblem } from '../controller/unit-names.ts';

export const AGENT_SECTION = 'bluechi-agent';

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export const LOG_TARGETS = ['journald', 'stderr', 'stderr-full'] as const;
/** cfg_s_get_bool_value: these (any case) are true, everything else false. */
export const TRUE_WORDS = ['true', 't', 'yes', 'y', 'on'] as const;
/** The words people mean as false; BlueChi reads any non-true word as false, we accept only these. */
export const FALSE_WORDS = ['false', 'f', 'no', 'n', 'off'] as const;

export interface KeySpec {
  readonly name: string;
  /** What bluechi-agent uses before reading any file (cfg_agent_def_conf); undefined: no value. */
  readonly builtIn?: string | 'hostname';
  /** Why bluechi-agent would refuse or misread `value` (never empty here), or undefined when fine. */
  check(value: string): string | undefined;
}

/** strtol in base 10 with nothing left over, as parse_long accepts (values arrive trimmed). */
function parseLong(value: string): bigint | undefined {
  const match = /^([+-]?)0*([0-9]+)$/.exec(value);
  // More than 19 significant digits is past a long; BigInt of a megabyte of digits would take seconds.
  if (!match || match[2]!.length > 19) return undefined;
  const number = BigInt(`${match[1]}${match[2]}`);
  return number > 2n ** 63n - 1n || number < -(2n ** 63n) ? undefined : number;
}

function integer(min: bigint, max: bigint, unit: string, hint = ''): (value: string) => string | undefined {
  return (value) => {
    const number = parseLong(value);
    if (number === undefined) return `${quote(value)} is not a whole number${unit}`;
    if (number < min || number > max) return `${value.length <= QUOTE_MAX ? value : quote(value)} is outside ${min}–${max}${unit}${hint}`;
    return undefined;
  };
}

const MAX_LONG = 2n ** 63n - 1n;

function boolean(value: string): string | undefined {
  const word = value.toLowerCase();
  if ((TRUE_WORDS as readonly string[]).includes(word) || (FALSE_WORDS as readonly string[]).includes(word)) return undefined;
  return `${quote(value)} is not a boolean (true/yes/on or false/no/off); bluechi-agent would read it as false`;
}

function controllerHost(value: string): string | undefined {
  if (/\s/.test(value)) return `${quote(value)} contains whitespace; it must be an IPv4 or IPv6 address or a host name`;
  return undefined;
}

export interface BusAddress {
  readonly transport: string;
  readonly keys: ReadonlyMap<string, string>;
}

/** sd_bus_set_address syntax: `transport:key=value,...`, several separated by `;`; undefined when malformed. */
export function parseBusAddresses(value: string): BusAddress[] | undefined {
  const addresses: BusAddress[] = [];
  for (const address of value.split(';')) {
    if (address === '') continue;
    const match = /^([a-z][a-z0-9-]*):(.*)$/i.exec(address);
    if (!match) return undefined;
    const pairs = match[2] === '' ? [] : match[2]!.split(',');
    if (!pairs.every((pair) => /^[^=,]+=[^,]*$/.test(pair))) return undefined;
    addresses.push({ transport: match[1]!, keys: new Map(pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)])) });
  }
  return addresses;
}

function busAddress(value: string): string | undefined {
  const addresses = parseBusAddresses(value);
  if (addresses === undefined || addresses.length === 0) {
    return `${quote(value)} is not a D-Bus address (expected e.g. unix:path=/run/bluechi/bluechi.sock or tcp:host=HOST,port=842)`;
  }
  return undefined;
}

export function nodeNameCheck(value: string): string | undefined {
  const problem = nodeNameProblem(value);
  if (problem) return `${quote(value)} is not a node name BlueChi can use: ${problem} (the controller's AllowedNodeNames is a comma-separated list)`;
  return undefined;
}

/** In the order bluechi-agent.conf(5) documents them; rendering follows this order. */
export const AGENT_KEYS: readonly KeySpec[] = [
  { name: 'NodeName', builtIn: 'hostname', check: nodeNameCheck },
  { name: 'ControllerAddress', check: busAddress },
  { name: 'ControllerHost', builtIn: '127.0.0.1', check: controllerHost },
  { name: 'ControllerPort', builtIn: '842', check: integer(1n, 65535n, '') },
  { name: 'HeartbeatInterval', builtIn: '2000', check: integer(0n, MAX_LONG, ' ms', ' (0 disables the heartbeat)') },
  { name: 'ControllerHeartbeatThreshold', builtIn: '0', check: integer(0n, MAX_LONG, ' ms', ' (0 disables the check)') },
  {
    name: 'LogLevel',
    builtIn: 'INFO',
    check: (value) =>
      (LOG_LEVELS as readonly string[]).includes(value)
        ? undefined
        : `${quote(value)} is not one of ${LOG_LEVELS.join(', ')} (upper case); bluechi-agent would silently log at INFO`,
  },
  {
    name: 'LogTarget',
    builtIn: 'journald',
    check: (value) =>
      (LOG_TARGETS as readonly string[]).includes(value.toLowerCase())
        ? undefined
        : `${quote(value)} is not one of ${LOG_TARGETS.join(', ')}; bluechi-agent would silently log to journald`,
  },
  { name: 'LogIsQuiet', check: boolean },
  { name: 'IPReceiveErrors', builtIn: 'true', check: boolean },
  { name: 'TCPKeepAliveTime', builtIn: '1', check: integer(0n, 32767n, ' s') },
  { name: 'TCPKeepAliveInterval', builtIn: '1', check: integer(0n, 32767n, ' s') },
  { name: 'TCPKeepAliveCount', builtIn: '6', check: integer(0n, 127n, '') },
  { name: 'ConnectionRetryCountUntilQuiet', builtIn: '10', check: integer(0n, MAX_LONG, '') },
];

export const AGENT_KEY_NAMES: readonly string[] = AGENT_KEYS.map((key) => key.name);

export function keySpec(name: string): KeySpec | undefined {
  return AGENT_KEYS.find((key) => key.name === name);
}

/** Known key names that differ only in case, for "did you mean" hints (BlueChi's keys are case-sensitive). */
export function similarKey(name: string): string | undefined {
  return AGENT_KEY_NAMES.find((known) => known.toLowerCase() === name.toLowerCase() && known !== name);
}

/** The environment variables bluechi-agent reads after its files (cfg_load_from_env). */
export const ENVIRONMENT_KEYS: Readonly<Record<string, string>> = {
  BC_LOG_LEVEL: 'LogLevel',
  BC_LOG_TARGET: 'LogTarget',
  BC_LOG_IS_QUIET: 'LogIsQuiet',
};

/** BlueChi's compiled-in paths for the agent (meson defaults: datadir /usr/share, sysconfdir /etc). */
export const PACKAGED_DEFAULT = '/usr/share/bluechi-agent/config/agent.conf';
export const HOST_CONFIG_DIR = '/etc/bluechi';
export const AGENT_CONF = 'agent.conf';
export const AGENT_CONF_D = 'agent.conf.d';
