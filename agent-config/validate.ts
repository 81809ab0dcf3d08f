// What bluechi-agent would ignore (warnings) or refuse or misread (errors), with file, line and key.
import { error, warning, type Diagnostic } from './diagnostics.ts';
import { notUtf8, type IniFile } from './ini.ts';
import { AGENT_SECTION, keySpec, similarKey } from './keys.ts';
import { fileSettings, type Section } from './merge.ts';

/** Per file: syntax problems, sections and keys bluechi-agent ignores. */
export function checkFiles(files: readonly IniFile[]): Diagnostic[] {
  return files.flatMap((file) => [...file.diagnostics, ...ignoredSettings(file)]);
}

function ignoredSettings(file: IniFile): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const undecodable = namesNotUtf8(file);
  const utf8Note = (name: string) => (undecodable.has(name) ? `not UTF-8 text (${undecodable.get(name)})` : undefined);
  for (const [name, keys] of fileSettings(file)) {
    // A loop, not Math.min(...lines): a spread of a hundred thousand keys overflows the call stack.
    let firstLine = Infinity;
    for (const setting of keys.values()) firstLine = Math.min(firstLine, setting.line ?? Infinity);
    const sectionNote = utf8Note(name);
    if (name === AGENT_SECTION) {
      for (const [key, setting] of keys) {
        if (keySpec(key)) continue;
        const hint = similarKey(key);
        const note = utf8Note(key);
        diagnostics.push(
          warning(file.file, setting.line, key, `unknown key${note ? `, ${note}` : ''}; bluechi-agent ignores it${hint ? ` (keys are case-sensitive: did you mean ${hint}?)` : ''}`),
        );
      }
    } else if (name === '') {
      diagnostics.push(warning(file.file, firstLine, keys.keys().next().value, `setting outside any section; bluechi-agent reads only [${AGENT_SECTION}] and ignores it`));
    } else {
      const hint = name.trim().toLowerCase() === AGENT_SECTION ? ` (BlueChi compares section names exactly: no surrounding spaces, lower case)` : '';
      const note = sectionNote ? `; its name is ${sectionNote}` : '';
      diagnostics.push(warning(file.file, firstLine, undefined, `section [${name}] is ignored by bluechi-agent, which reads only [${AGENT_SECTION}]${hint}${note}`));
    }
  }
  return diagnostics;
}

/** Section and key names (as decoded) whose bytes are not UTF-8 text, with the reason naming the byte. */
function namesNotUtf8(file: IniFile): Map<string, string> {
  const names = new Map<string, string>();
  for (const { section, key, raw } of file.assignments) {
    for (const [name, bytes] of [
      [section, raw.section],
      [key, raw.key],
    ] as const) {
      if (bytes === name || names.has(name)) continue; // ASCII decodes to itself
      const reason = notUtf8(bytes);
      if (reason) names.set(name, reason);
    }
  }
  return names;
}

/** The values bluechi-agent will run with: each known key's value checked where it was set. */
export function checkValues(agent: Section): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const [key, setting] of agent) {
    const spec = keySpec(key);
    if (!setting.utf8) {
      diagnostics.push(error(setting.file, setting.line, key, `value is not UTF-8 text: ${setting.utf8Problem ?? 'it has bytes that are not'}`));
      continue;
    }
    if (!spec || setting.value === null) continue;
    const problem = spec.check(setting.value);
    if (problem) diagnostics.push(error(setting.file, setting.line, key, problem));
  }
  return diagnostics;
}
