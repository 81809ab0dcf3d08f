// Layout files merged as systemd merges drop-ins: in order, later keys win; maps merge key by key.
import type { Entry, Tree } from './tree.ts';

/**
 * `overlay` applied on `base`: where both hold a map, the maps merge entry by entry (new keys keep
 * their file order, after the existing ones); anything else — scalars, lists, an empty value — replaces
 * what was there. Every value keeps the position of the file it came from.
 */
export function mergeTrees(base: Tree, overlay: Tree): Tree {
  if (base.kind !== 'map' || overlay.kind !== 'map') return overlay;
  const entries: Entry[] = base.entries.map((entry) => {
    const over = overlay.entries.find((candidate) => candidate.key === entry.key);
    return over ? { key: entry.key, keyPos: over.keyPos, value: mergeTrees(entry.value, over.value) } : entry;
  });
  for (const entry of overlay.entries) {
    if (!base.entries.some((candidate) => candidate.key === entry.key)) entries.push(entry);
  }
  return { kind: 'map', pos: base.pos, entries };
}

export function mergeAll(trees: readonly Tree[]): Tree | undefined {
  return trees.length === 0 ? undefined : trees.slice(1).reduce(mergeTrees, trees[0]!);
}
