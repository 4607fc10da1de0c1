import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ejs from 'ejs';
import express from 'express';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { ejsViews, endRenderedPages, inlineIncludes, localNames } from '../../src/http/views.js';

let dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  dirs = [];
});

async function viewsDir(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'views-'));
  dirs.push(root);
  for (const [name, source] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), source);
  }
  return root;
}

/** An Express app rendering `view` with the query string as data, through the engine under test. */
function appFor(root: string, compileDebug = true, cache = true) {
  const app = express();
  app.set('views', root);
  app.engine('ejs', ejsViews(root, { compileDebug, cache }));
  app.set('view engine', 'ejs');
  app.set('view cache', true); // as src/app.ts: Express looks each view up on disk once
  app.locals.site = 'Example';
  app.get('/:view', (req, res) => {
    res.locals.fromLocals = 'res.locals';
    res.render(req.params.view, { ...req.query });
  });
  app.use(((err, _req, res, _next) => {
    res.status(500).type('text').send(String((err as Error).message));
  }) as express.ErrorRequestHandler);
  return app;
}

describe('ejsViews (EJS, cache warmed before the first render)', () => {
  it('renders with app.locals, res.locals and the view data, escaping <%= and not <%-', async () => {
    const root = await viewsDir({ 'page.ejs': '<%= site %>|<%= fromLocals %>|<%= name %>|<%- raw %>' });
    const res = await request(appFor(root)).get('/page').query({ name: '<b>&"', raw: '<i>' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('Example|res.locals|&lt;b&gt;&amp;&#34;|<i>');
  });

  it("gives an include the page's locals plus its own, from the views root, nested includes too", async () => {
    const root = await viewsDir({
      'deep/page.ejs': "<%- include('/partials/outer', { title: 'Inner title' }) %>/<%= title %>",
      'partials/outer.ejs': "[<%= title %>:<%= name %>:<%- include('/partials/inner') %>]",
      'partials/inner.ejs': '<%= title %>-<%= site %>',
    });
    const res = await request(appFor(root)).get('/deep%2Fpage').query({ title: 'Page title', name: 'n' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('[Inner title:n:Inner title-Example]/Page title');
  });

  it('resolves relative includes as stock EJS does: next to the including file, else from the views folder', async () => {
    const root = await viewsDir({
      'deep/page.ejs': "<%- include('partials/outer') %>|<%- include('sibling') %>",
      'deep/sibling.ejs': 'sibling',
      'partials/outer.ejs': "outer:<%- include('inner', { name: 'x' }) %>",
      'partials/inner.ejs': 'inner <%= name %>',
    });
    const res = await request(appFor(root)).get('/deep%2Fpage');
    expect(res.status).toBe(200);
    expect(res.text).toBe('outer:inner x|sibling');
  });

  it('renders from memory after the first render: files changed or gone on disk do not matter until restart', async () => {
    const root = await viewsDir({ 'page.ejs': 'first <%= name %>' });
    const app = appFor(root);
    expect((await request(app).get('/page').query({ name: 'a' })).text).toBe('first a');
    await rm(root, { recursive: true });
    expect((await request(app).get('/page').query({ name: 'b' })).text).toBe('first b');
  });

  it('fails the render (never the process) on an unknown include or a template error, naming the line with compileDebug', async () => {
    const root = await viewsDir({
      'missing.ejs': "<%- include('/partials/nope') %>",
      'throws.ejs': 'line one\n<%= thing.that.is.undefined %>',
    });
    const app = appFor(root);
    const missing = await request(app).get('/missing');
    expect(missing.status).toBe(500);
    expect(missing.text).toMatch(/ENOENT.*partials\/nope\.ejs/);
    const throws = await request(app).get('/throws');
    expect(throws.status).toBe(500);
    expect(throws.text).toMatch(/throws\.ejs:2/);
    // The app still serves after both.
    expect((await request(app).get('/missing')).status).toBe(500);
  });

  it('fails only the renders that use a template that does not compile, and ignores dot files', async () => {
    const root = await viewsDir({
      'page.ejs': 'ok',
      'broken.ejs': '<% if (x) { %>',
      'uses-broken.ejs': "before <%- include('/broken') %>",
    });
    // An editor's lock file: a dangling symlink named like a template.
    await symlink('/nonexistent/editor-lock', path.join(root, '.#page.ejs'));
    const app = appFor(root);
    const page = await request(app).get('/page');
    expect(page.status).toBe(200);
    expect(page.text).toBe('ok');
    for (const view of ['broken', 'uses-broken']) {
      const res = await request(app).get(`/${view}`);
      expect(res.status, view).toBe(500);
      expect(res.text, view).toMatch(/broken\.ejs/);
    }
    expect((await request(app).get('/page')).text).toBe('ok');
  });

  it('reads templates from disk on every render when the cache is off (development edits show at once)', async () => {
    const root = await viewsDir({ 'page.ejs': 'first' });
    const app = appFor(root, true, false);
    expect((await request(app).get('/page')).text).toBe('first');
    await writeFile(path.join(root, 'page.ejs'), 'second');
    expect((await request(app).get('/page')).text).toBe('second');
  });

  it("keeps what an include assigns to itself: the page's locals are not changed", async () => {
    const root = await viewsDir({
      'page.ejs': "<%- include('/partials/assigns') %>|<%= name %>|<%= typeof added %>",
      'partials/assigns.ejs': "<% name = 'changed'; locals.added = 1 %><%= name %>",
    });
    const res = await request(appFor(root)).get('/page').query({ name: 'original' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('changed|original|undefined');
  });
});

/** Stock EJS, no cache and no inlining: what a template means. */
function stockRender(root: string, view: string, data: object): Promise<string> {
  return new Promise((resolve, reject) => {
    ejs.renderFile(path.join(root, view), data, { root, views: [root], cache: false }, (err, html) => (err ? reject(err) : resolve(html!)));
  });
}

function sourcesOf(root: string, files: Record<string, string>): Map<string, string> {
  return new Map(Object.entries(files).map(([name, source]) => [path.join(root, name), source]));
}

describe('inlineIncludes (static includes compiled into the page)', () => {
  it('inlines includes by a literal root path, nested ones and conditional ones too, with the output of EJS includes', async () => {
    const files = {
      'page.ejs': "<%- include('/partials/head', { title }) %>\n<% if (show) { %><%- include('/partials/alert') %><% } %>\n<%- include(\"/partials/foot\") %>",
      'partials/head.ejs': "<h1><%= title %> <%- include('/partials/brand') %></h1>\n",
      'partials/brand.ejs': '<%= site %>',
      'partials/alert.ejs': '<p class="alert"><%= typeof message !== \'undefined\' ? message : \'none\' %></p>',
      'partials/foot.ejs': '<% for (const item of items) { %><li><%= item %></li><% } %>\n',
    };
    const root = await viewsDir(files);
    const inlined = inlineIncludes(files['page.ejs'], root, sourcesOf(root, files));
    expect(inlined).not.toContain('include(');
    expect(inlined).toContain('<%= site %>');
    const app = appFor(root);
    for (const show of ['1', '']) {
      const data = { title: '<T>', show, items: ['a', '<b>'], site: 'Example' };
      const res = await request(app).get('/page').query({ title: '<T>', show, items: ['a', '<b>'] });
      expect(res.status).toBe(200);
      expect(res.text).toBe(await stockRender(root, 'page.ejs', data));
    }
  });

  it('inlines include data that gives a key a literal or a name, for the partial alone, as EJS gives it', async () => {
    const files = {
      // A string, a boolean, undefined, a number, another local and a property of one; `wide` and
      // `label` are the page's own locals too, which only the partial sees changed.
      'page.ejs':
        "<%- include('/partials/show', { title, wide: true, label: 'given', nav: undefined, count: -2.5, other: title, size: title.length }) %>|<%= wide %>,<%= label %>",
      // In a loop: the value is the loop variable, the key is not declared by the page.
      'loop.ejs': "<% for (const item of items) { %><%- include('/partials/item', { entry: item }) %><% } %>",
      // A name passed on under its own name needs no declaration.
      'same.ejs': "<%- include('/partials/item', { entry: entry }) %>",
      // Nested: the partial's own include gives data too.
      'nested.ejs': "<%- include('/partials/outer', { label: 'outer' }) %>",
      'partials/show.ejs':
        "<%= title %>/<%= wide %>/<%= label %>/<%= typeof nav %>/<%= count %>/<%= other %>/<%= size %>/<%= typeof absent %>",
      'partials/item.ejs': '[<%= entry %>]',
      'partials/outer.ejs': "<%= label %>:<%- include('/partials/item', { entry: label }) %><%- include('/partials/item', { entry: 'x' }) %>",
    };
    const root = await viewsDir(files);
    const sources = sourcesOf(root, files);
    for (const view of ['page', 'loop', 'same', 'nested']) {
      expect(inlineIncludes(files[`${view}.ejs` as keyof typeof files], root, sources), view).not.toContain('include(');
    }
    expect(inlineIncludes(files['same.ejs'], root, sources)).toBe('[<%= entry %>]');
    const app = appFor(root);
    const data = { title: '<T>', wide: 'local', label: 'local', items: ['a', '<b>'], entry: 'e' };
    const expected = {
      page: '&lt;T&gt;/true/given/undefined/-2.5/&lt;T&gt;/3/undefined|local,local',
      loop: '[a][&lt;b&gt;]',
      same: '[e]',
      nested: 'outer:[outer][x]',
    };
    for (const [view, text] of Object.entries(expected)) {
      const res = await request(app).get(`/${view}`).query(data);
      expect(res.text, view).toBe(text);
      expect(await stockRender(root, `${view}.ejs`, data), view).toBe(text);
    }
  });

  it('leaves an include to EJS where running in the page could change what the partial sees or does', async () => {
    const files = {
      // The loop variable would hide the local `name` from an inlined partial.
      'loop.ejs': "<% for (const name of ['loop']) { %><%- include('/partials/name') %><% } %>|<%= name %>",
      // What a partial assigns stays its own.
      'assigns.ejs': "<%- include('/partials/assigns') %>|<%= name %>",
      // Include data that is more than names, literals and properties: a call.
      'data.ejs': "<%- include('/partials/name', { name: String('given') }) %>",
      // A value read from a key declared beside it: as consts, `name` would be read before it is set.
      'swap.ejs': "<%- include('/partials/name', { name: other, other: name }) %>",
      // A key that is a keyword cannot be declared.
      'keyword.ejs': "<%- include('/partials/name', { name, new: 1 }) %>",
      // A relative include inside the partial resolves from the partial's folder.
      'relative.ejs': "<%- include('/partials/relative') %>",
      // What the page assigns, an include does not see: it gets the locals as given.
      'page-assigns.ejs': "<% name = 'page' %><%- include('/partials/name') %>|<%= name %>",
      // A `var` in the partial would be the page's own variable.
      'declares.ejs': "<%- include('/partials/declares') %>|<%= typeof later %>",
      'partials/name.ejs': '<%= name %>',
      'partials/assigns.ejs': "<% name = 'changed' %><%= name %>",
      'partials/relative.ejs': "<%- include('name') %>",
      'partials/declares.ejs': '<% var later %><%= name %>',
    };
    const root = await viewsDir(files);
    const sources = sourcesOf(root, files);
    for (const view of ['loop', 'assigns', 'page-assigns', 'data', 'swap', 'keyword', 'relative', 'declares']) {
      const source = files[`${view}.ejs` as keyof typeof files];
      expect(inlineIncludes(source, root, sources), view).toBe(source);
    }
    const app = appFor(root);
    const expected = {
      loop: 'local|local',
      assigns: 'changed|local',
      'page-assigns': 'local|page',
      data: 'given',
      swap: 'other',
      keyword: 'local',
      relative: 'local',
      declares: 'local|undefined',
    };
    for (const [view, text] of Object.entries(expected)) {
      const res = await request(app).get(`/${view}`).query({ name: 'local', other: 'other' });
      expect(res.text, view).toBe(text);
      expect(await stockRender(root, `${view}.ejs`, { name: 'local', other: 'other' }), view).toBe(text);
    }
  });

  it('leaves an include of a template it does not have, or one that includes itself past the depth limit', async () => {
    const files = { 'page.ejs': "<%- include('/partials/gone') %>", 'self.ejs': "x<%- include('/self') %>" };
    const root = await viewsDir(files);
    const sources = sourcesOf(root, files);
    expect(inlineIncludes(files['page.ejs'], root, sources)).toBe(files['page.ejs']);
    const self = inlineIncludes(files['self.ejs'], root, sources);
    expect(self.match(/x/g)).toHaveLength(9);
    expect(self.endsWith("<%- include('/self') %>")).toBe(true);
  });
});

describe('localNames (templates compiled without `with`)', () => {
  it("declares the template's words, not JavaScript's keywords, own globals or EJS's names", () => {
    const names = localNames("<% if (typeof user !== 'undefined' && user.tags) { %><%= JSON.stringify(user.tags) %> <%- include('/x', { base }) %><% } %> <%# note %>");
    expect(names).toEqual(expect.arrayContaining(['user', 'tags', 'base', 'x']));
    // `stringify` is declared too (a property name, declared for nothing); `note` is in a comment.
    for (const name of ['if', 'typeof', 'undefined', 'JSON', 'include', 'note']) expect(names, name).not.toContain(name);
  });

  it('keeps `with` for code that uses `locals` itself or has a non-ASCII character', () => {
    expect(localNames('<%= locals.title %>')).toBeUndefined();
    expect(localNames('<% const café = 1 %><%= café %>')).toBeUndefined();
    expect(localNames('<p>café</p><%= title %>')).toEqual(['title']);
  });

  it('renders as EJS does: globals stay globals, a local named like a Node global is the local, top-level declarations work', async () => {
    const files = {
      'globals.ejs': "<%= JSON.stringify(list) %>|<%= typeof Date %>|<%= process %>|<%= typeof absent === 'undefined' %>",
      'declares.ejs': "<% const title = 'declared' %><%= title %>",
    };
    const root = await viewsDir(files);
    const app = appFor(root);
    const globals = await request(app).get('/globals').query({ list: ['a', 'b'], process: 'local' });
    expect(globals.text).toBe('[&#34;a&#34;,&#34;b&#34;]|function|local|true');
    expect(globals.text).toBe(await stockRender(root, 'globals.ejs', { list: ['a', 'b'], process: 'local' }));
    const declares = await request(app).get('/declares').query({ title: 'given' });
    expect(declares.status).toBe(200);
    expect(declares.text).toBe('declared');
  });
});

describe('endRenderedPages (a rendered page is answered with res.end, not res.send)', () => {
  function pagesApp(root: string) {
    const app = express();
    app.set('views', root);
    app.engine('ejs', ejsViews(root, { compileDebug: false, cache: true }));
    app.set('view engine', 'ejs');
    endRenderedPages(app);
    app.get('/page', (req, res) => {
      res.render('page', { n: Number(req.query.n ?? 1) });
    });
    app.get('/typed', (_req, res) => {
      res.type('application/xhtml+xml').render('page', { n: 1 });
    });
    app.get('/callback', (_req, res) => {
      res.render('page', { n: 2 }, (err, html) => res.type('text').send(`callback:${err ? 'error' : html}`));
    });
    app.get('/broken', (_req, res) => {
      res.render('broken');
    });
    app.use(((err, _req, res, _next) => {
      res.status(500).type('text').send(`handled: ${(err as Error).message.split('\n')[0]}`);
    }) as express.ErrorRequestHandler);
    return app;
  }

  it('sends a large page whole, as HTML, with its Content-Length in bytes', async () => {
    // 3000 × "é" is 6000 bytes: past the size at which res.send would copy it into a Buffer.
    const root = await viewsDir({ 'page.ejs': '<p><%= "é".repeat(1000 * n) %></p>' });
    const res = await request(pagesApp(root)).get('/page').query({ n: 3 });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(`<p>${'é'.repeat(3000)}</p>`)));
    expect(res.text).toBe(`<p>${'é'.repeat(3000)}</p>`);
  });

  it('keeps a Content-Type set before, leaves a callback its answer, and sends a render error to the error handler', async () => {
    const root = await viewsDir({ 'page.ejs': '<p><%= n %></p>', 'broken.ejs': '<%= missing.name %>' });
    const app = pagesApp(root);
    const typed = await request(app).get('/typed');
    expect(typed.headers['content-type']).toMatch(/^application\/xhtml\+xml/);
    expect(typed.text).toBe('<p>1</p>');
    const callback = await request(app).get('/callback');
    expect(callback.text).toBe('callback:<p>2</p>');
    const broken = await request(app).get('/broken');
    expect(broken.status).toBe(500);
    // Compiled without `with`, a name the page was not given reads as undefined (not a ReferenceError).
    expect(broken.text).toMatch(/^handled: Cannot read properties of undefined \(reading 'name'\)/);
  });

  it('answers HEAD with the headers only', async () => {
    const root = await viewsDir({ 'page.ejs': '<p><%= n %></p>' });
    const res = await request(pagesApp(root)).head('/page');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.text ?? '').toBe('');
  });
});
