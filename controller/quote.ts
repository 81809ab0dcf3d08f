// A person's text inside a message: quoted, and only a bounded prefix of it, so no input makes an error line huge.

/** The most characters of one quoted text a message shows. */
export const QUOTE_MAX = 60;

/** `"text"`, or `"first 60 characters…" (N characters)` for longer text. */
export function quote(text: string): string {
  if (text.length <= QUOTE_MAX) return JSON.stringify(text);
  return `${JSON.stringify(shorten(text))} (${text.length} characters)`;
}

/** `text`, or its first 60 characters and "…", for names shown without quotes. */
export function shorten(text: string): string {
  return text.length <= QUOTE_MAX ? text : `${text.slice(0, QUOTE_MAX)}…`;
}
