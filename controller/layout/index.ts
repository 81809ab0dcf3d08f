// The vehicle layout: parse once at the edge, then trust the Layout type.
export * from './model.ts';
export { readLayout, readLayoutBytes, loadLayout, layoutFiles, DEFAULT_LAYOUT, MAX_LAYOUT_FILE_BYTES, type LayoutSource, type LayoutBytes } from './load.ts';
export { validateLayout, parseDuration, LAYOUT_KEYS, LAYOUT_VERSION, type Validated } from './validate.ts';
export { findCycles } from './cycles.ts';
