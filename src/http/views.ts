import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import ejs from 'ejs';
import type { Express, Response } from 'express';

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
