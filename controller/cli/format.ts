// Human output: aligned tables and colour, the latter only on a terminal.

const ansi = /\u001b\[[0-9;]*m/g;
const visible = (text: string) => text.replace(ansi, '').length;

/** Columns padded to their widest cell; cells may carry colour, which takes no width. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => visible(row[column] ?? ''))));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell + ' '.repeat((widths[column] ?? 0) - visible(cell))))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

const codes = { red: 31, green: 32, yellow: 33, bold: 1, dim: 2 } as const;
export type Colour = keyof typeof codes;

export function paint(tty: boolean, colour: Colour, text: string): string {
  return tty ? `\u001b[${codes[colour]}m${text}\u001b[0m` : text;
}

/** Colour for a systemd ActiveState or job result. */
export function stateColour(state: string): Colour | undefined {
  if (state === 'active' || state === 'done' || state === 'online' || state === 'up') return 'green';
  if (state === 'failed' || state === 'offline' || state === 'down' || state === 'timeout') return 'red';
  if (state === 'activating' || state === 'deactivating' || state === 'reloading' || state === 'degraded') return 'yellow';
  return undefined;
}

export function painted(tty: boolean, state: string): string {
  const colour = stateColour(state);
  return colour ? paint(tty, colour, state) : state;
}
