/**
 * Text from elsewhere (Hydra's error_description and hint, a client's name, anything a page shows
 * that this app did not write) is cut to this many characters when it is shown, with an ellipsis:
 * a real description is a sentence or two, and nothing should make a page megabytes long.
 */
export const MAX_SHOWN_TEXT = 2000;

/** `text` cut to `max` characters plus "…", never splitting a surrogate pair. */
export function clip(text: string, max = MAX_SHOWN_TEXT): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  const end = code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
  return `${text.slice(0, end)}…`;
}
