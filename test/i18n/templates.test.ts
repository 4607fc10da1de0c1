import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const VIEWS = path.resolve(import.meta.dirname, '../../views');

/** Every template under views/, partials included: all their words come from the catalogs (locales/<lang>.json). */
async function templates(): Promise<string[]> {
  const files = await readdir(VIEWS, { recursive: true });
  return files.filter((file) => file.endsWith('.ejs')).sort();
}

/** Attributes a person reads or hears (a button's `value` is the form's, not shown). */
const READ_ATTRIBUTES = /\s(?:alt|title|aria-label|placeholder)="([^"]*)"/g;

/** The words of a template that are not `<% %>` expressions: text nodes and read attributes. */
function literalWords(source: string): string[] {
  const withoutEjs = source.replace(/<%[\s\S]*?%>/g, '').replace(/<!--[\s\S]*?-->/g, '');
  const words: string[] = [];
  for (const tag of withoutEjs.match(/<[^>]*>/g) ?? []) {
    for (const [, value] of tag.matchAll(READ_ATTRIBUTES)) if (/\p{L}/u.test(value!)) words.push(value!);
  }
  const text = withoutEjs.replace(/<[^>]*>/g, '\n');
  for (const line of text.split('\n')) if (/\p{L}/u.test(line)) words.push(line.trim());
  return words;
}

describe('templates hold no text of their own', () => {
  it('the check itself catches a word, in text and in a read attribute, and allows punctuation', () => {
    expect(literalWords('<p>Hello <%= name %></p>')).toEqual(['Hello']);
    expect(literalWords('<img alt="Logo" src="<%= x %>">')).toEqual(['Logo']);
    expect(literalWords('<p><%- t("a") %> (<%= b %>).</p><%# a comment %><!-- note -->')).toEqual([]);
  });

  it('every template, partials and the account, admin and demo pages included', async () => {
    const files = await templates();
    expect(files.length).toBeGreaterThan(40);
    const leftovers: Record<string, string[]> = {};
    for (const file of files) {
      const words = literalWords(await readFile(path.join(VIEWS, file), 'utf8'));
      if (words.length > 0) leftovers[file] = words;
    }
    expect(leftovers).toEqual({});
  });
});
