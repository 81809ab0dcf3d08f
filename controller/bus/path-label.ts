// sd-bus's object path label escaping (bus_label_escape), used by systemd and BlueChi alike.

/** Bytes other than ASCII letters (and digits after the first) become `_xx`; the empty string is `_`. */
export function escapePathLabel(label: string): string {
  if (label.length === 0) return '_';
  return [...Buffer.from(label, 'utf8')]
    .map((byte, index) => {
      const letter = (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
      const digit = byte >= 0x30 && byte <= 0x39;
      return letter || (digit && index > 0) ? String.fromCharCode(byte) : `_${byte.toString(16).padStart(2, '0')}`;
    })
    .join('');
}

/** The inverse: `_xx` is always an escaped byte, since `_` itself is escaped. */
export function unescapePathLabel(label: string): string {
  if (label === '_') return '';
  const bytes: number[] = [];
  for (let i = 0; i < label.length; i++) {
    if (label[i] === '_' && /^[0-9a-f]{2}$/.test(label.slice(i + 1, i + 3))) {
      bytes.push(parseInt(label.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(label.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The last element of an object path, unescaped. */
export function labelOf(path: string): string {
  return unescapePathLabel(path.slice(path.lastIndexOf('/') + 1));
}
