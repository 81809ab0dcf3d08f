// Whether the host's own bluechi-controller would accept QM's agent: it refuses names it does not
// list ("Unexpected node name"), the most common reason a QM agent never comes online.
import { join } from 'node:path';
import { quote } from '../controller/quote.ts';
import { warning, type Diagnostic } from './diagnostics.ts';
import { loadAgentFiles } from './files.ts';
import { TRUE_WORDS } from './keys.ts';
import { fileSettings, mergeSettings, originOf, section, type Settings } from './merge.ts';

export const CONTROLLER_SECTION = 'bluechi-controller';
/** BlueChi's CFG_BC_DEFAULT_CONFIG with meson's default datadir. */
export const CONTROLLER_PACKAGED_DEFAULT = '/usr/share/bluechi/config/controller.conf';
const NODE_SECTION_PREFIX = 'node ';

/** The names controller_parse_config admits: AllowedNodeNames split at "," (empty pieces skipped, nothing trimmed) and [node NAME] sections with Allowed=true. */
export function allowedNodeNames(settings: Settings): Set<string> {
  const names = new Set((section(settings, CONTROLLER_SECTION).get('AllowedNodeNames')?.value ?? '').split(',').filter((name) => name !== ''));
  for (const [name, keys] of settings) {
    const allowed = keys.get('Allowed')?.value?.toLowerCase();
    if (name.startsWith(NODE_SECTION_PREFIX) && allowed !== undefined && (TRUE_WORDS as readonly string[]).includes(allowed)) names.add(name.slice(NODE_SECTION_PREFIX.length));
  }
  return names;
}

/** A warning when this host has a controller configuration that does not allow `nodeName`; nothing when it has none. */
export async function checkControllerAllows(hostConfigDir: string, nodeName: string, packagedDefault = CONTROLLER_PACKAGED_DEFAULT): Promise<Diagnostic[]> {
  const paths = { packagedDefault, configFile: join(hostConfigDir, 'controller.conf'), dropInDir: join(hostConfigDir, 'controller.conf.d') };
  const loaded = await loadAgentFiles(paths, { requireDefault: false });
  if (loaded.files.length === 0) return [];
  const settings = mergeSettings(loaded.files.map(fileSettings));
  if (allowedNodeNames(settings).has(nodeName)) return [];
  const list = section(settings, CONTROLLER_SECTION).get('AllowedNodeNames');
  const where = list ?? { file: paths.configFile, line: undefined };
  return [
    warning(where.file, where.line, 'AllowedNodeNames', `the host's bluechi-controller does not allow ${nodeName}${list ? ` (${originOf(list)} lists ${quote(list.value ?? '')})` : ''}: it will refuse QM's agent ("Unexpected node name"); add ${nodeName} to AllowedNodeNames`),
  ];
}
