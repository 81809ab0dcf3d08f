// Settings as bluechi-agent holds them: per file through cfg.c's parsing_handler, then layer over
// layer, key by key, the later layer winning (cfg_copy_overwrite) — an empty value included.
import { decodeBytes, notUtf8, type IniFile } from './ini.ts';
import { AGENT_KEYS, ENVIRONMENT_KEYS } from './keys.ts';

export interface Setting {
  /** null: the key is present with an empty value, which BlueChi stores as "no value". */
  readonly value: string | null;
  /** The file the value came from, or a label such as `(built-in default)`. */
  readonly file: string;
  /** The line that set the value; absent for built-in defaults and the environment. */
  readonly line?: number;
  /** Every line that contributed (continuations, repeats of the key in the same file). */
  readonly lines: readonly number[];
  /** False when the value's bytes are not valid UTF-8 (each bad byte shown as \xNN). */
  readonly utf8: boolean;
  /** Which byte is not UTF-8 and why, when `utf8` is false. */
  readonly utf8Problem?: string;
}

export type Section = ReadonlyMap<string, Setting>;
/** Section name → key → setting. Keys before any section header are in section "". */
export type Settings = ReadonlyMap<string, Section>;

export const BUILT_IN = '(built-in default)';

interface RawSetting {
  raw: string | null;
  line: number;
  lines: number[];
}

/** cfg_load_from_file into a fresh config: repeats and continuations concatenate, empty means none. */
export function fileSettings(ini: IniFile): Settings {
  // BlueChi discards a file with a syntax error as a whole.
  if (ini.rejected) return new Map();
  const raw = new Map<string, Map<string, RawSetting>>();
  for (const { raw: bytes, line } of ini.assignments) {
    let section = raw.get(bytes.section);
    if (!section) raw.set(bytes.section, (section = new Map()));
    const existing = section.get(bytes.key);
    if (existing && existing.raw !== null) {
      existing.raw += bytes.value;
      existing.lines.push(line);
    } else {
      section.set(bytes.key, { raw: bytes.value === '' ? null : bytes.value, line, lines: [line] });
    }
  }
  return new Map(
    [...raw].map(([section, keys]) => [
      decodeBytes(section),
      new Map(
        [...keys].map(([key, setting]): [string, Setting] => {
          const problem = setting.raw === null ? undefined : notUtf8(setting.raw);
          const value = setting.raw === null ? null : decodeBytes(setting.raw);
          const decoded: Setting = { value, file: ini.file, line: setting.line, lines: setting.lines, utf8: problem === undefined };
          return [decodeBytes(key), problem === undefined ? decoded : { ...decoded, utf8Problem: problem }];
        }),
      ),
    ]),
  );
}

/** Later layers override earlier ones key by key, as bluechi-agent loads them. */
export function mergeSettings(layers: readonly Settings[]): Settings {
  const merged = new Map<string, Map<string, Setting>>();
  for (const layer of layers) {
    for (const [name, section] of layer) {
      let target = merged.get(name);
      if (!target) merged.set(name, (target = new Map()));
      for (const [key, setting] of section) target.set(key, setting);
    }
  }
  return merged;
}

export function section(settings: Settings, name: string): Section {
  return settings.get(name) ?? new Map();
}

function single(sectionName: string, entries: Array<[string, string | null]>, file: (key: string) => string): Settings {
  return new Map([[sectionName, new Map(entries.map(([key, value]) => [key, { value, file: file(key), lines: [], utf8: true }]))]]);
}

/** What cfg_agent_def_conf puts in place before any file is read. */
export function builtInSettings(sectionName: string, hostname: string): Settings {
  return single(
    sectionName,
    AGENT_KEYS.filter((key) => key.builtIn !== undefined).map((key) => [key.name, key.builtIn === 'hostname' ? hostname : key.builtIn!]),
    () => BUILT_IN,
  );
}

/** cfg_load_from_env: BC_LOG_LEVEL, BC_LOG_TARGET and BC_LOG_IS_QUIET, when set and not empty. */
export function environmentSettings(sectionName: string, env: Readonly<Record<string, string | undefined>>): Settings {
  const entries = Object.entries(ENVIRONMENT_KEYS)
    .filter(([variable]) => (env[variable] ?? '') !== '')
    .map(([variable, key]): [string, string] => [key, env[variable]!]);
  const variables = Object.fromEntries(Object.entries(ENVIRONMENT_KEYS).map(([variable, key]) => [key, variable]));
  return single(sectionName, entries, (key) => `(environment ${variables[key]})`);
}

/** `file:line`, or just the label for settings that have no line. */
export function originOf(setting: Setting): string {
  return setting.line === undefined ? setting.file : `${setting.file}:${setting.line}`;
}
