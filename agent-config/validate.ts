// What bluechi-agent would ignore (warnings) or refuse or misread (errors), with file, line and key.
import { error, warning, type Diagnostic } from './diagnostics.ts';
import type { IniFile } from './ini.ts';
import { AGENT_SECTION, keySpec, similarKey } from './keys.ts';
import { fileSettings, type Section } from './merge.ts';

/** Per file: syntax problems, sections and keys bluechi-agent ignores. */
export function checkFiles(files: readonly IniFile[]): Diagnostic[] {
  return files.flatMap((file) => [...file.diagnostics, ...ignoredSettings(file)]);
}

function ignoredSettings(file: IniFile): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const [name, keys] of fileSettings(file)) {
    const settings = [...keys];
    const firstLine = Math.min(...settings.map(([, setting]) => setting.line ?? Infinity));
    if (name === AGENT_SECTION) {
      for (const [key, setting] of settings) {
        if (keySpec(key)) continue;
        const hint = similarKey(key);
        diagnostics.push(
          warning(file.file, setting.line, key, `unknown key; bluechi-agent ignores it${hint ? ` (keys are case-sensitive: did you mean ${hint}?)` : ''}`),
        );
      }
    } else if (name === '') {
      diagnostics.push(warning(file.file, firstLine, settings[0]?.[0], `setting outside any section; bluechi-agent reads only [${AGENT_SECTION}] and ignores it`));
    } else {
      const hint = name.trim().toLowerCase() === AGENT_SECTION ? ` (BlueChi compares section names exactly: no surrounding spaces, lower case)` : '';
      diagnostics.push(warning(file.file, firstLine, undefined, `section [${name}] is ignored by bluechi-agent, which reads only [${AGENT_SECTION}]${hint}`));
    }
  }
  return diagnostics;
}

/** The values bluechi-agent will run with: each known key's value checked where it was set. */
export function checkValues(agent: Section): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const [key, setting] of agent) {
    const spec = keySpec(key);
    if (!setting.utf8) {
      diagnostics.push(error(setting.file, setting.line, key, 'value is not valid UTF-8'));
      continue;
    }
    if (!spec || setting.value === null) continue;
    const problem = spec.check(setting.value);
    if (problem) diagnostics.push(error(setting.file, setting.line, key, problem));
  }
  return diagnostics;
}
