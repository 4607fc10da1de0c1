import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import vm from 'node:vm';
import ejs from 'ejs';
import type { Express, Response } from 'express';

type EngineCallback = (err: Error | null, html?: string) => void;
type Engine = (file: string, locals: object, done: EngineCallback) => void;

/**
 * The Express view engine: `ejs.renderFile` with EJS's own template cache, filled before the
 * first render.
 *
 * - Options are EJS's documented ones. `root` makes `include('/partials/head', { title })` resolve
 *   from the views folder with no file-system call; `views` lets a relative `include('partials/head')`
 *   work from any template, as in EJS's docs (EJS checks the disk for each relative include on
 *   every render, so the shipped templates use the `/` form). `cache` is Express's `view cache`.
 * - EJS 7 no longer takes options from Express's `view options` setting, so they are passed here.
 * - Before the first render, every template under `root` is read and compiled asynchronously into
 *   `ejs.cache`: no render then reads a file synchronously. A template that does not compile is
 *   left out, so only the pages that use it fail (EJS reads and compiles it again, and throws).
 *   Files and folders whose names start with a dot (editor lock and swap files) are skipped.
 * - While compiling, the includes a template names by a literal `/` path are compiled into it
 *   (inlineIncludes below), so each page is one function; any other include stays EJS's own.
 *   And each template is compiled without EJS's `with (locals)` where it can be (localNames
 *   below): the names it reads are declared from its locals up front (EJS's `_with: false` with
 *   `destructuredLocals`), because every name looked up through `with` is a slow dynamic lookup.
 *   With both, the login page renders in about a fifth of the time it takes stock EJS.
 */
export function ejsViews(root: string, options: { compileDebug: boolean; cache: boolean }): Engine {
  const ejsOptions = { root, views: [root], compileDebug: options.compileDebug, cache: options.cache };
  let warming: Promise<void> | undefined;

  return (file, locals, done) => {
    if (!options.cache) {
      ejs.renderFile(file, locals, ejsOptions, done);
      return;
    }
    warming ??= warmCache(root, ejsOptions).catch((err: unknown) => {
      // The views folder could not be read: try again at the next render.
      warming = undefined;
      throw err;
    });
    warming.then(
      () => ejs.renderFile(file, locals, ejsOptions, done),
      (err: unknown) => done(err as Error),
    );
  };
}

async function warmCache(root: string, ejsOptions: ejs.Options): Promise<void> {
  const files = (await readdir(root, { recursive: true })).filter(
    (file) => file.endsWith('.ejs') && !file.split(path.sep).some((part) => part.startsWith('.')),
  );
  const sources = new Map(
    await Promise.all(
      files.map(async (relative): Promise<[string, string]> => {
        const filename = path.resolve(root, relative);
        return [filename, await readFile(filename, 'utf8')];
      }),
    ),
  );
  for (const [filename, source] of sources) {
    const inlined = inlineIncludes(source, root, sources);
    const names = localNames(inlined);
    const compiled =
      (names && compileOrUndefined(inlined, { ...ejsOptions, filename, _with: false, destructuredLocals: names })) ||
      compileOrUndefined(inlined, { ...ejsOptions, filename }) ||
      compileOrUndefined(source, { ...ejsOptions, filename });
    // Not cached: the pages that use it fail with EJS's own error, naming the template.
    if (compiled) ejs.cache.set(filename, compiled);
  }
}

function compileOrUndefined(source: string, options: ejs.Options): ejs.TemplateFunction | undefined {
  try {
    return ejs.compile(source, options);
  } catch {
    return undefined;
  }
}

/**
 * A value include data may give a key: a string (no quote, backslash or `%` in it), a number, or
 * a name (true, false, null and undefined included) or a property of one (`form.scope`).
 */
const DATA_VALUE = String.raw`'[^'\\%\n]*'|"[^"\\%\n]*"|-?\d+(?:\.\d+)?|[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*`;
/** One entry of include data: `name` (passed on) or `key: value`. */
const DATA_ENTRY = new RegExp(String.raw`([A-Za-z_$][\w$]*)(?:\s*:\s*(${DATA_VALUE}))?`, 'g');
/**
 * `<%- include('/partials/x') %>` or `<%- include('/partials/x', { a, b: true, c: d.e }) %>`: a
 * literal path from the views root, and include data (if any) made of DATA_ENTRY entries only.
 */
const STATIC_INCLUDE = new RegExp(
  String.raw`<%-\s*include\(\s*(['"])(\/[^'"\\]+)\1\s*(?:,\s*\{\s*((?:${DATA_ENTRY.source})(?:\s*,\s*(?:${DATA_ENTRY.source}))*)\s*\})?\s*\)\s*%>`,
  'g',
);
/** A partial is inlined at most this deep (one that includes itself stays an include). */
const MAX_INLINE_DEPTH = 8;
/** The code of each EJS tag (`<% %>`, `<%= %>`, `<%- %>`, `<%_ %>`; not `<%# %>` comments or a literal `<%%`). */
const CODE_TAG = /<%(?!%)([=_-]?)(#?)([\s\S]*?)[-_]?%>/g;
/**
 * Code that writes a variable or declares one beyond its block: an assignment (not a comparison or
 * an arrow), ++ or --, anything touching `locals`, a `var`, a function or a class.
 */
const WRITES_OR_DECLARES = /(^|[^=!<>])=(?![=>])|\+\+|--|\blocals\b|\b(?:var|function|class)\b/;
/** Where a template declares names: const/let/var (plain or destructured), arrow, function and catch parameters. */
const DECLARATIONS = [
  /\b(?:const|let|var)\s+(\[[^\]]*\]|\{[^}]*\}|[A-Za-z_$][\w$]*)/g,
  /\(([^()]*)\)\s*=>/g,
  /([A-Za-z_$][\w$]*)\s*=>/g,
  /\bfunction\b[^(]*\(([^)]*)\)/g,
  /\bcatch\s*\(([^)]*)\)/g,
];
const IDENTIFIER = /[A-Za-z_$][\w$]*/g;
/** JavaScript's own globals (Date, JSON, Object, undefined, …): a fresh context's, without Node's. */
const BUILTINS = new Set<string>(vm.runInNewContext('Object.getOwnPropertyNames(globalThis)') as string[]);
const RESERVED = new Set(
  'await break case catch class const continue debugger default delete do else enum export extends false finally for function if implements import in instanceof interface let new null package private protected public return static super switch this throw true try typeof var void while with yield arguments eval'.split(' '),
);
/** The names EJS's generated function uses itself. */
const EJS_NAMES = new Set(['locals', '__locals', 'escapeFn', 'include', 'rethrow', '__output', '__append', '__line', '__lines', '__filename']);

/**
 * The names a template may read from its locals, to declare up front instead of compiling it
 * with `with (locals)`: every word in its code (a superset: property names and words in strings
 * count too, and are declared for nothing) except JavaScript's keywords and own globals, which
 * keep meaning what they mean. Undefined, and so `with` as before, for code that uses `locals`
 * itself (what it writes there would not reach the names declared) or has a non-ASCII character
 * (a name the word match could cut short). A template whose code declares one of these names at
 * its top level does not compile this way; it is then compiled with `with`, as before. The one
 * difference a template can see: a name it was not given reads as undefined, not a ReferenceError.
 */
export function localNames(template: string): string[] | undefined {
  const code = codeOf(template);
  if (/\blocals\b/.test(code) || /[^\x00-\x7f]/.test(code)) return undefined;
  return [...new Set(code.match(IDENTIFIER))].filter((name) => !BUILTINS.has(name) && !RESERVED.has(name) && !EJS_NAMES.has(name));
}

function codeOf(template: string): string {
  let code = '';
  for (const [, , comment, body] of template.matchAll(CODE_TAG)) if (!comment) code += `${body}\n`;
  return code;
}

/** Every name the code may declare (a superset: a destructuring's keys count too). */
function declaredNames(code: string): Set<string> {
  const names = new Set<string>();
  for (const declaration of DECLARATIONS) {
    for (const [, declared = ''] of code.matchAll(declaration)) for (const name of declared.match(IDENTIFIER) ?? []) names.add(name);
  }
  return names;
}

/**
 * The template's static includes (STATIC_INCLUDE) replaced by the partials' own source, resolved
 * from `root` as EJS resolves them, recursively. An EJS include costs ~15 µs a render in EJS's
 * own bookkeeping (it copies the compile options and the locals twice, resolves the path, looks
 * up the cache), more than most partials' own work: the login page, with three, renders in half
 * the time inlined.
 *
 * Inlined, a partial runs in the including template's scope rather than in its own copy of the
 * locals, which is the same only when it cannot tell: so a partial is inlined only if neither it
 * nor the including template writes or declares anything beyond a block (WRITES_OR_DECLARES), it
 * names nothing the including template declares (a loop variable would hide a local of the same
 * name), and includes nothing by a relative path. Include data that passes a name on
 * (`{ application }`) means the same on both sides; one that gives a key a literal or a name's
 * value (`{ wide: true }`) is declared for the partial alone (dataBindings below). Anything else
 * stays an ordinary EJS include.
 * The checks read identifiers as words, strings and property names too, so they err towards
 * leaving an include alone. With compileDebug, an error in an inlined partial names the page's
 * file, at the line of the partial's code there.
 */
export function inlineIncludes(source: string, root: string, sources: ReadonlyMap<string, string>, depth = 0): string {
  const own = codeOf(source);
  // What the including template writes, an EJS include would not see (it gets the data as given).
  if (depth >= MAX_INLINE_DEPTH || WRITES_OR_DECLARES.test(own)) return source;
  const declared = declaredNames(own);
  return source.replace(STATIC_INCLUDE, (include: string, _quote: string, name: string, data = '') => {
    const partial = sources.get(ejs.resolveInclude(name.replace(/^\/+/, ''), root, true));
    if (partial === undefined) return include;
    // The partial's own code; the nested partials inlined into it were checked at their level
    // (the consts that bind their data are not writes).
    if (WRITES_OR_DECLARES.test(codeOf(partial))) return include;
    const body = inlineIncludes(partial, root, sources, depth + 1);
    const code = codeOf(body);
    if (/\binclude\(\s*(?!['"]\/)/.test(code)) return include;
    if ((code.match(IDENTIFIER) ?? []).some((identifier) => declared.has(identifier))) return include;
    const bindings = dataBindings(data);
    if (bindings === undefined) return include;
    return bindings.length === 0 ? body : `<% { const ${bindings.join(', ')}; %>${body}<% } %>`;
  });
}

/**
 * Include data as the declarations that give the inlined partial the same names: none for a name
 * passed on (`{ nav }`, or `{ nav: nav }`), `wide = true` for `{ wide: true }`, in a block of
 * the partial's own, where they hide the page's names as include data hides its locals.
 * Undefined (left an include) where a declaration could not say the same: a key that is a
 * keyword, or a value read from a key declared beside it (`{ a: b, b: a }`: the consts are one
 * scope, and `b` would be read before it is set).
 */
function dataBindings(data: string): string[] | undefined {
  const entries = [...data.matchAll(DATA_ENTRY)].flatMap(([, key = '', value]) => (value === undefined || value === key ? [] : [{ key, value }]));
  const keys = new Set(entries.map((entry) => entry.key));
  const readsKey = (value: string) => keys.has(/^[A-Za-z_$][\w$]*/.exec(value)?.[0] ?? '');
  if (entries.some(({ key, value }) => RESERVED.has(key) || readsKey(value))) return undefined;
  return entries.map(({ key, value }) => `${key} = ${value}`);
}

type RenderCallback = (err: Error | null, html: string) => void;

/**
 * `res.render(view, locals)` answers with the page as a string passed to `res.end()`, not through
 * `res.send()`. Express's send turns a page over 1000 bytes into a Buffer, and Node then writes
 * the head and that body as two chunks; given a string, Node writes head and body in one go and
 * sets Content-Length itself. For the login page that was 11 % of its CPU (bench --candidate).
 * Everything else is as with Express's own answer: a render error goes to the error handler, a
 * Content-Type set before is kept, and a call with a callback is left to the callback. It is set
 * on this app's `app.response`, the prototype Express gives its responses for such additions.
 */
export function endRenderedPages(app: Express): void {
  const render = app.response.render as (this: Response, view: string, locals?: object, done?: RenderCallback) => void;
  app.response.render = function renderPage(this: Response, view: string, locals?: object | RenderCallback, done?: RenderCallback) {
    if (typeof locals === 'function' || done) {
      render.call(this, view, locals as object, done);
      return;
    }
    render.call(this, view, locals, (err, html) => {
      if (err) {
        this.req.next?.(err);
        return;
      }
      if (!this.hasHeader('Content-Type')) this.setHeader('Content-Type', 'text/html; charset=utf-8');
      this.end(html);
    });
  } as Response['render'];
}
