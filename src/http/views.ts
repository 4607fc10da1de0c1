import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import ejs from 'ejs';

type EngineCallback = (err: Error | null, html?: string) => void;
type Engine = (file: string, locals: object, done: EngineCallback) => void;

/**
 * The Express view engine: stock `ejs.renderFile` with EJS's own template cache, plus one step
 * before the first render.
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
  await Promise.all(
    files.map(async (relative) => {
      const filename = path.resolve(root, relative);
      const source = await readFile(filename, 'utf8');
      try {
        ejs.cache.set(filename, ejs.compile(source, { ...ejsOptions, filename }));
      } catch {
        // Not cached: the pages that use it fail with EJS's own error, naming the template.
      }
    }),
  );
}
