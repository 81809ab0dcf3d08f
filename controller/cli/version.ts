// Kept apart from main.ts so `qmctl version` loads nothing else.
export const VERSION = '0.1.0';
