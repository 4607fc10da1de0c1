import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import ejs from 'ejs';

type Locals = Record<string, unknown>;
type Include = (name: string, data?: Locals) => string;
type Template = (locals: Locals, escape: undefined, include: Include) => string;
type EngineCallback = (err: Error | null, html?: string) => void;
/** A compiled template, or why it does not compile (thrown when a render uses it). */
type Compiled = Template | Error;

/**
 * An Express view engine for the EJS templates in `root`, compiled once, with includes looked up in
 * that same table.
 *
 * Express's stock `ejs.renderFile` resolves the path, looks up the cache and copies every local for
 * each include, which cost a login page (four includes) ~25 µs per render, or ~5 % of the request.
 * Here a page is its compiled function and an include is a Map lookup. Templates are plain EJS with
 * the same semantics: `include('/partials/head', { title })` sees the page's locals plus its own.
 * Include paths start with `/`, from the views root.
 *
 * The first render reads and compiles every template under `root` (asynchronously); later renders
 * touch no file. A template edited on disk takes effect at the next start, as with Express's view
 * cache. A template that does not compile fails only the renders that use it; files and folders
 * whose names start with a dot (editor lock and swap files) are not templates.
 */
export function precompiledViews(root: string, options: { compileDebug: boolean }): (file: string, locals: object, done: EngineCallback) => void {
  let loading: Promise<Map<string, Compiled>> | undefined;
  const names = new Map<string, string>();
  const nameOf = (file: string): string => {
    let name = names.get(file);
    if (name === undefined) names.set(file, (name = templateName(root, file)));
    return name;
  };

  return (file, locals, done) => {
    loading ??= compileAll(root, options.compileDebug);
    loading.then(
      (templates) => {
        let html: string;
        try {
          html = render(templates, nameOf(file), locals as Locals);
        } catch (err) {
          done(err as Error);
          return;
        }
        done(null, html);
      },
      (err: unknown) => {
        // The views folder could not be read: try again at the next render.
        loading = undefined;
        done(err as Error);
      },
    );
  };
}

/**
 * EJS's include semantics: the included template gets its own copy of the includer's locals plus
 * its own, so nothing it assigns leaks back into the page.
 */
function render(templates: Map<string, Compiled>, name: string, data: Locals): string {
  const template = templates.get(name);
  if (!template) throw new Error(`no template ${name}.ejs in the views`);
  if (template instanceof Error) throw template;
  return template(data, undefined, (includeName, includeData) => render(templates, includeName, { ...data, ...includeData }));
}

/** '/login', '/partials/head': the file's path under the views root, without '.ejs'. */
function templateName(root: string, file: string): string {
  const relative = path.relative(root, file).split(path.sep).join('/');
  return `/${relative.replace(/\.ejs$/, '')}`;
}

async function compileAll(root: string, compileDebug: boolean): Promise<Map<string, Compiled>> {
  const files = (await readdir(root, { recursive: true })).filter(
    (file) => file.endsWith('.ejs') && !file.split(path.sep).some((part) => part.startsWith('.')),
  );
  const templates = new Map<string, Compiled>();
  await Promise.all(
    files.map(async (relative) => {
      const filename = path.join(root, relative);
      const source = await readFile(filename, 'utf8');
      try {
        // client: a function of (locals, escape, include), so includes come from this table.
        templates.set(templateName(root, filename), ejs.compile(source, { client: true, filename, compileDebug }) as unknown as Template);
      } catch (err) {
        templates.set(templateName(root, filename), err as Error);
      }
    }),
  );
  return templates;
}
