// BlueChi's object-path label escaping (libbluechi bus_path_escape), which is also systemd's for unit paths.

const isAsciiLetter = (byte: number): boolean => (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
const isAsciiDigit = (byte: number): boolean => byte >= 0x30 && byte <= 0x39;

/**
 * Escapes one object-path label: every byte that is not an ASCII letter, and not a digit after the
 * first position, becomes `_` plus two lowercase hex digits; the empty string becomes `_`.
 * `qm.vehicle-a` → `qm_2evehicle_2da`.
 */
export function escapePathLabel(name: string): string {
  if (name === '') return '_';
  let out = '';
  Buffer.from(name, 'utf8').forEach((byte, index) => {
    out +=
      isAsciiLetter(byte) || (index > 0 && isAsciiDigit(byte))
        ? String.fromCharCode(byte)
        : `_${byte.toString(16).padStart(2, '0')}`;
  });
  return out;
}
