// Shell completion for qmctl, bash and zsh, generated from the command table: the verbs, each one's options (its
// option table, with what the value is from its usage and help), its positional arguments as its usage names them
// (NODE, UNIT, FILE, literal choices), and the global options. Node and unit names come live from BlueChi through
// `qmctl --json list-nodes` and `qmctl --json list-units NODE` (loaded units) with `list-unit-files NODE` (installed
// ones, which a start or enable names as often), silently nothing when the bus does not answer.
// Pure: the table in, a script out; scripts/gen-docs.ts writes dist/completion/.
import type { OptionSpec } from './command.ts';
import { describedOptions } from './help-text.ts';

/** What an option's value or a positional argument is completed from. */
export type ValueKind = 'node' | 'nodes' | 'unit' | 'file' | 'dir' | 'none';

export interface OptionEntry {
  readonly long: string;
  readonly short?: string;
  readonly description: string;
  /** Undefined for a flag; for an option with a value, what completes it. */
  readonly value?: { readonly kind: ValueKind; readonly words: readonly string[] };
}

/** One positional argument: what completes it, and whether it repeats (`UNIT...`) to the end. */
export interface Slot {
  readonly kinds: readonly ValueKind[];
  readonly words: readonly string[];
  readonly repeats: boolean;
}

export interface VerbEntry {
  readonly name: string;
  readonly summary: string;
  readonly options: readonly OptionEntry[];
  readonly slots: readonly Slot[];
}

export interface CompletionTable {
  readonly global: readonly OptionEntry[];
  readonly verbs: readonly VerbEntry[];
}

interface DescribedCommand {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly help?: string;
  readonly options?: OptionSpec;
}

// What a placeholder in a usage line or help text stands for.
const PLACEHOLDERS: Record<string, ValueKind> = {
  NODE: 'node', UNIT: 'unit', TARGET: 'unit', FILE: 'file', PATH: 'file', LAYOUT: 'file', SRC: 'file', DST: 'file', DIR: 'dir',
};

/**
 * The completion table of `commands` plus the global options (`globalOptions`, described by `commonHelp`).
 * `knownValues` gives the choices of options whose help names only a placeholder (`--mode MODE`).
 */
export function completionTable(
  commands: readonly DescribedCommand[],
  globalOptions: OptionSpec,
  commonHelp: string,
  knownValues: Readonly<Record<string, readonly string[]>> = {},
): CompletionTable {
  return {
    global: optionEntries(globalOptions, commonHelp, '', knownValues),
    verbs: commands.map((command) => ({
      name: command.name,
      summary: command.summary,
      options: optionEntries(command.options ?? {}, command.help ?? '', command.usage, knownValues),
      slots: usageSlots(command.name, command.usage),
    })),
  };
}

function optionEntries(spec: OptionSpec, help: string, usage: string, knownValues: Readonly<Record<string, readonly string[]>>): OptionEntry[] {
  const described = describedOptions(help);
  return Object.entries(spec).map(([long, option]) => {
    const text = described.find((entry) => entry.long === long);
    const entry = { long, ...(option.short ? { short: option.short } : {}), description: text?.description ?? '' };
    if (option.type !== 'string') return entry;
    // The usage may write the choices out (`--controller auto|unix|tcp`) where the help names a placeholder.
    const placeholder = new RegExp(`--${long} ([^\\s\\]]+)`).exec(usage)?.[1] ?? text?.value ?? '';
    const words = knownValues[long] ?? (placeholder.includes('|') ? placeholder.split('|') : []);
    return { ...entry, value: { kind: words.length > 0 ? 'none' : (PLACEHOLDERS[placeholder] ?? 'none'), words } };
  });
}

/** The positional arguments a usage names, each line an alternative (`reload NODE UNIT...` / `reload`), merged by position. */
export function usageSlots(name: string, usage: string): Slot[] {
  const slots: { kinds: Set<ValueKind>; words: Set<string>; repeats: boolean }[] = [];
  // Each line, and each side of a lone `|` (`setup [...] | setup --remove`), is one way to call the command.
  const alternatives = usage.split('\n').flatMap((line) =>
    splitTop(line, ' ').reduce<string[][]>((ways, token) => (token === '|' ? [...ways, []] : (ways.at(-1)!.push(token), ways)), [[]]),
  );
  for (const tokens of alternatives) {
    const positionals = tokens
      .filter((token, index) => !(index === 0 && token === name))
      .map((token) => token.replace(/^\[(.*)\]$/, '$1'))
      .filter((token) => !token.startsWith('-'));
    positionals.forEach((token, index) => {
      const slot = (slots[index] ??= { kinds: new Set(), words: new Set(), repeats: false });
      const base = token.replace(/\.\.\.$/, '');
      slot.repeats ||= base !== token;
      // NODE[,NODE...]: a comma-separated list of nodes.
      if (base === 'NODE[,NODE...]') slot.kinds.add('nodes');
      else
        for (const choice of base.split('|')) {
          if (/^[A-Z][A-Z0-9_]*$/.test(choice)) slot.kinds.add(PLACEHOLDERS[choice] ?? 'none');
          // A literal to type; not `*`, which the shell would expand.
          else if (/^[\w.-]+$/.test(choice)) slot.words.add(choice);
        }
    });
  }
  // Completing files completes directories too.
  for (const slot of slots) if (slot.kinds.has('file')) slot.kinds.delete('dir');
  return slots.map((slot) => ({ kinds: [...slot.kinds].filter((kind) => kind !== 'none'), words: [...slot.words], repeats: slot.repeats }));
}

/** Splits `text` at `separator` outside brackets. */
function splitTop(text: string, separator: string): string[] {
  const parts = [''];
  let depth = 0;
  for (const char of text) {
    if (char === '[') depth++;
    if (char === ']') depth--;
    if (char === separator && depth === 0) parts.push('');
    else parts[parts.length - 1] += char;
  }
  return parts.map((part) => part.trim()).filter((part) => part !== '');
}

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
const names = (option: OptionEntry) => [`--${option.long}`, ...(option.short ? [`-${option.short}`] : [])];
/** Index of the positional the verb's units belong to: its (first) NODE. */
const nodeIndex = (verb: VerbEntry) => verb.slots.findIndex((slot) => slot.kinds.includes('node') || slot.kinds.includes('nodes'));

/** What completes a value: bash lines calling the script's own helpers. */
function bashValue(kinds: readonly ValueKind[], words: readonly string[], node: string): string {
  const calls = [
    ...(words.length > 0 ? [`_qmctl_words ${quote(words.join(' '))}`] : []),
    ...kinds.map((kind) => ({ node: '_qmctl_nodes', nodes: '_qmctl_nodes ,', unit: `_qmctl_units "${node}"`, file: '_qmctl_files', dir: '_qmctl_files -d', none: '' })[kind]),
  ].filter(Boolean);
  return calls.length > 0 ? calls.join('; ') : ':';
}

export function bashCompletion(table: CompletionTable): string {
  const valued = (verb: string, options: readonly OptionEntry[]) => options.filter((option) => option.value).flatMap((option) => names(option).map((name) => `${verb} ${name}`));
  const valuedPatterns = [...valued('*', table.global).map((pattern) => `*${quote(pattern.slice(1))}`), ...table.verbs.flatMap((verb) => valued(verb.name, verb.options).map(quote))];
  const valueCases = [
    ...table.verbs.flatMap((verb) => verb.options.filter((option) => option.value).map((option) => [names(option).map((name) => quote(`${verb.name} ${name}`)).join('|'), option] as const)),
    ...table.global.filter((option) => option.value).map((option) => [names(option).map((name) => `*${quote(` ${name}`)}`).join('|'), option] as const),
  ].map(([pattern, option]) => `    ${pattern}) ${bashValue([option.value!.kind], option.value!.words, '')} ;;`);
  const optionCases = table.verbs.map((verb) => `    ${quote(verb.name)}) options=${quote(verb.options.flatMap(names).join(' '))} ;;`);
  const positionalCases = table.verbs.flatMap((verb) => {
    const node = nodeIndex(verb);
    const unitNode = node < 0 ? '' : `\${positionals[${node}]%%,*}`;
    return verb.slots.map((slot, index) => `    ${slot.repeats ? `${quote(`${verb.name} `)}*` : quote(`${verb.name} ${index}`)}) ${bashValue(slot.kinds, slot.words, unitNode)} ;;`);
  });
  const globals = table.global.flatMap(names).join(' ');
  return `# bash completion for qmctl                                  -*- shell-script -*-
# Generated from qmctl's command table by scripts/gen-docs.ts; do not edit. Node and unit names are asked of
# BlueChi (qmctl --json list-nodes, list-units NODE, list-unit-files NODE) on the bus the command line names, if it
# answers in time.

_qmctl_verbs=${quote(table.verbs.map((verb) => verb.name).join(' '))}
_qmctl_global_options=${quote(globals)}

# Adds to COMPREPLY the words of $1 that start with $cur.
_qmctl_words() {
  local word
  for word in $1; do [[ $word == "$cur"* ]] && COMPREPLY+=("$word"); done
}

# Prints field $1 of each object \`qmctl --json $2...\` prints; quiet and empty when qmctl or the bus fails.
_qmctl_field() {
  local key=$1 line limit=()
  shift
  type -P timeout >/dev/null && limit=(timeout "\${QMCTL_COMPLETION_TIMEOUT:-3}")
  "\${limit[@]}" "$_qmctl_self" "\${_qmctl_bus[@]}" --json "$@" 2>/dev/null </dev/null | while IFS= read -r line; do
    [[ $line =~ ^\\ *\\"$key\\":\\ \\"(.*)\\",?$ ]] || continue
    line=\${BASH_REMATCH[1]}
    line=\${line//'\\\\'/'\\'}
    printf '%s\\n' "$line"
  done
}

# Node names; with an argument (","), the last of a comma-separated list.
_qmctl_nodes() {
  local prefix= name
  [[ -n $1 && $cur == *,* ]] && prefix=\${cur%,*},
  while IFS= read -r name; do
    [[ $prefix$name == "$cur"* ]] && COMPREPLY+=("$prefix$name")
  done < <(_qmctl_field name list-nodes)
}

# Units loaded on node $1 and unit files installed there (every node's for ""), at once.
_qmctl_unit_names() {
  local node=$1 path
  shift
  _qmctl_field name list-units \${node:+"$node"} "$@" &
  _qmctl_field path list-unit-files \${node:+"$node"} | while IFS= read -r path; do printf '%s\\n' "\${path##*/}"; done
  wait
}

# Unit names on node $1 (every node's for "" or "*").
_qmctl_units() {
  local name node=$1 filter=()
  [[ $node == "*" ]] && node=
  [[ -n $cur && $cur != *[][*?\\\\]* ]] && filter=(--filter "$cur*")
  while IFS= read -r name; do
    [[ $name == "$cur"* ]] && COMPREPLY+=("$(printf '%q' "$name")")
  done < <(_qmctl_unit_names "$node" "\${filter[@]}" | sort -u)
}

_qmctl_files() {
  if declare -F _filedir >/dev/null; then
    _filedir "$@"
  else
    compopt -o filenames 2>/dev/null
    local IFS=$'\\n'
    if [[ $1 == -d ]]; then COMPREPLY+=($(compgen -d -- "$cur")); else COMPREPLY+=($(compgen -f -- "$cur")); fi
  fi
}

# Whether option $2 of verb $1 takes a value (the next word).
_qmctl_takes_value() {
  case "$1 $2" in
    ${valuedPatterns.join('|')}) return 0 ;;
  esac
  return 1
}

_qmctl() {
  local cur words cword
  if declare -F _get_comp_words_by_ref >/dev/null; then
    _get_comp_words_by_ref -n =: cur words cword
  else
    words=("\${COMP_WORDS[@]}") cword=$COMP_CWORD cur=\${COMP_WORDS[COMP_CWORD]}
  fi
  COMPREPLY=()
  local _qmctl_self=\${words[0]} _qmctl_bus=() verb= expect= word i
  local positionals=()
  for ((i = 1; i < cword; i++)); do
    word=\${words[i]}
    if [[ -n $expect ]]; then
      [[ $expect == --bus-address ]] && _qmctl_bus=(--bus-address "$word")
      expect=
      continue
    fi
    case $word in
      --bus-address=*) _qmctl_bus=("$word") ;;
      -*=*) ;;
      -*) _qmctl_takes_value "$verb" "$word" && expect=$word ;;
      *) if [[ -z $verb ]]; then verb=$word; else positionals+=("$word"); fi ;;
    esac
  done

  if [[ -n $expect ]]; then
    case "$verb $expect" in
${valueCases.join('\n')}
    esac
    return 0
  fi
  if [[ $cur == -* ]]; then
    local options=
    case $verb in
${optionCases.join('\n')}
    esac
    _qmctl_words "$options $_qmctl_global_options"
    return 0
  fi
  if [[ -z $verb ]]; then
    _qmctl_words "$_qmctl_verbs"
    return 0
  fi
  case "$verb \${#positionals[@]}" in
${positionalCases.join('\n')}
  esac
  return 0
}

complete -F _qmctl qmctl
`;
}

/** zsh: the same table, verbs and options with their descriptions. */
export function zshCompletion(table: CompletionTable): string {
  const zq = quote;
  const describe = (option: OptionEntry) => names(option).map((name) => `${name}:${option.description}`);
  const zshValue = (kinds: readonly ValueKind[], words: readonly string[], node: string) => {
    const calls = [
      ...(words.length > 0 ? [`compadd -- ${words.map(zq).join(' ')}`] : []),
      ...kinds.map((kind) => ({ node: '_qmctl_nodes', nodes: '_qmctl_nodes ,', unit: `_qmctl_units "${node}"`, file: '_files', dir: '_files -/', none: '' })[kind]),
    ].filter(Boolean);
    return calls.length > 0 ? calls.join('; ') : ':';
  };
  const valuedPatterns = [
    ...table.global.filter((option) => option.value).flatMap((option) => names(option).map((name) => `*${zq(` ${name}`)}`)),
    ...table.verbs.flatMap((verb) => verb.options.filter((option) => option.value).flatMap((option) => names(option).map((name) => zq(`${verb.name} ${name}`)))),
  ];
  const valueCases = [
    ...table.verbs.flatMap((verb) => verb.options.filter((option) => option.value).map((option) => [names(option).map((name) => zq(`${verb.name} ${name}`)).join('|'), option] as const)),
    ...table.global.filter((option) => option.value).map((option) => [names(option).map((name) => `*${zq(` ${name}`)}`).join('|'), option] as const),
  ].map(([pattern, option]) => `    (${pattern}) ${zshValue([option.value!.kind], option.value!.words, '')} ;;`);
  const optionCases = table.verbs.map((verb) => `    (${zq(verb.name)}) options=(${verb.options.flatMap(describe).map(zq).join(' ')}) ;;`);
  const positionalCases = table.verbs.flatMap((verb) => {
    const node = nodeIndex(verb);
    const unitNode = node < 0 ? '' : `\${positionals[${node + 1}]%%,*}`;
    return verb.slots.map((slot, index) => `    (${slot.repeats ? `${zq(`${verb.name} `)}*` : zq(`${verb.name} ${index}`)}) ${zshValue(slot.kinds, slot.words, unitNode)} ;;`);
  });
  return `#compdef qmctl
# zsh completion for qmctl. Generated from qmctl's command table by scripts/gen-docs.ts; do not edit. Node and unit
# names are asked of BlueChi (qmctl --json list-nodes, list-units NODE, list-unit-files NODE) on the bus the command
# line names.

# Field $1 of each object \`qmctl --json $2...\` prints; quiet and empty when qmctl or the bus fails.
_qmctl_field() {
  local key=$1 line
  local -a limit
  shift
  (( $+commands[timeout] )) && limit=(timeout \${QMCTL_COMPLETION_TIMEOUT:-3})
  $limit $_qmctl_self $_qmctl_bus --json "$@" 2>/dev/null </dev/null | while IFS= read -r line; do
    [[ $line =~ "^ *\\"$key\\": \\"(.*)\\",?\\$" ]] || continue
    print -r -- \${match[1]//'\\\\'/'\\'}
  done
}

_qmctl_nodes() {
  local -a nodes
  nodes=(\${(f)"$(_qmctl_field name list-nodes)"})
  if [[ -n $1 ]]; then
    compset -P '*,'
    compadd -S '' -q -- $nodes
  else
    compadd -- $nodes
  fi
}

_qmctl_unit_names() {
  local node=$1 line
  shift
  _qmctl_field name list-units \${node:+$node} "$@" &
  _qmctl_field path list-unit-files \${node:+$node} | while IFS= read -r line; do print -r -- \${line:t}; done
  wait
}

_qmctl_units() {
  local node=$1
  local -a filter units
  [[ $node == '*' ]] && node=
  [[ -n $PREFIX && $PREFIX != *[][*?\\\\]* ]] && filter=(--filter "$PREFIX*")
  units=(\${(fu)"$(_qmctl_unit_names "$node" $filter)"})
  compadd -- $units
}

_qmctl_takes_value() {
  case "$1 $2" in
    (${valuedPatterns.join('|')}) return 0 ;;
  esac
  return 1
}

_qmctl() {
  local _qmctl_self=\${words[1]} verb= expect= word
  local -a _qmctl_bus positionals options
  local i
  for (( i = 2; i < CURRENT; i++ )); do
    word=\${words[i]}
    if [[ -n $expect ]]; then
      [[ $expect == --bus-address ]] && _qmctl_bus=(--bus-address $word)
      expect=
      continue
    fi
    case $word in
      (--bus-address=*) _qmctl_bus=($word) ;;
      (-*=*) ;;
      (-*) _qmctl_takes_value "$verb" "$word" && expect=$word ;;
      (*) if [[ -z $verb ]]; then verb=$word; else positionals+=($word); fi ;;
    esac
  done

  if [[ -n $expect ]]; then
    case "$verb $expect" in
${valueCases.join('\n')}
    esac
    return 0
  fi
  if [[ $PREFIX == -* ]]; then
    case $verb in
${optionCases.join('\n')}
    esac
    options+=(${table.global.flatMap(describe).map(zq).join(' ')})
    _describe -t options option options
    return 0
  fi
  if [[ -z $verb ]]; then
    local -a verbs
    verbs=(${table.verbs.map((verb) => zq(`${verb.name}:${verb.summary}`)).join(' ')})
    _describe -t commands command verbs
    return 0
  fi
  case "$verb \${#positionals}" in
${positionalCases.join('\n')}
  esac
  return 0
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _qmctl "$@"
else
  compdef _qmctl qmctl
fi
`;
}
