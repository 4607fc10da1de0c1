import express, { type Request, type RequestHandler } from 'express';
import { HttpError } from '../http/errors.js';

/**
 * How /admin reads request bodies. Kept apart from the route handlers: they see `req.body` as
 * an object or undefined, and never a body of a type they did not ask for.
 */

/** Admin bodies: a client with a big jwks or metadata is a few kB; 100kb leaves room, no more. */
export const BODY_LIMIT = '100kb';

/** The content types a JSON body may come as (PATCH senders use application/json-patch+json). */
export const JSON_TYPES = ['application/json', 'application/*+json'];

/** Deeper than this, a body is not a client, a key set or a patch: real ones nest 4–6 levels. */
export const MAX_JSON_DEPTH = 32;

/** A request that carries a body (Content-Length above 0, or chunked). */
function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * The admin API's bodies are JSON: a PUT, POST or PATCH whose body is anything else is a 415,
 * before it could be read as "no fields" (a PUT with text/plain used to replace a client with an
 * empty one). `formPaths` may also take a urlencoded form: introspection, which Hydra itself
 * takes as a form. The console's forms go through their own chain and are not affected.
 */
export function requireJsonBodies(formPaths: readonly string[] = []): RequestHandler {
  const forms = new Set(formPaths);
  return (req, _res, next) => {
    if ((req.method !== 'POST' && req.method !== 'PUT' && req.method !== 'PATCH') || !hasBody(req)) return next();
    const types = forms.has(req.path) ? [...JSON_TYPES, 'application/x-www-form-urlencoded'] : JSON_TYPES;
    if (req.is(types)) return next();
    const type = req.headers['content-type']?.split(';')[0]?.trim();
    next(
      new HttpError(415, `The request body must be JSON, sent with Content-Type: application/json (this one is ${type ? type : 'untyped'}).`, {
        title: 'Unsupported content type',
        code: 'unsupported_media_type',
      }),
    );
  };
}

/**
 * Whether `value` nests arrays and objects deeper than `max`. Walked with an explicit stack, so
 * a 5000-level body cannot overflow ours: JSON.parse copes with it, but recursive code after it
 * (zod's included) does not, and answered 500. A 100 kB body is walked in well under a millisecond.
 */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (depth > max) return true;
    for (const child of Array.isArray(item) ? item : Object.values(item as object)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** A 400 for JSON nested deeper than MAX_JSON_DEPTH, for a body or a JSON text field of a form. */
export function checkJsonDepth(value: unknown, where = 'The JSON body'): void {
  if (typeof value === 'object' && value !== null && nestedDeeperThan(value, MAX_JSON_DEPTH)) {
    throw new HttpError(400, `${where} is nested more than ${MAX_JSON_DEPTH} levels deep.`);
  }
}

/**
 * Whether JSON text nests `{`/`[` deeper than `max` (brackets inside string literals aside), read
 * without parsing. For the console's JSON textareas (JSON Patch, key sets, metadata), which the
 * routes parse themselves: a field that is not JSON simply rarely nests brackets.
 */
export function textNestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** The parsers: forms (the console) and JSON (the API, and fetch), then the depth checks. */
export function adminBodies(): RequestHandler[] {
  return [
    express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 200 }),
    express.json({ limit: BODY_LIMIT, type: JSON_TYPES }),
    (req, _res, next) => {
      if (req.is('application/x-www-form-urlencoded')) {
        for (const [name, value] of Object.entries((req.body ?? {}) as Record<string, unknown>)) {
          for (const text of Array.isArray(value) ? value : [value]) {
            if (typeof text === 'string' && textNestedDeeperThan(text, MAX_JSON_DEPTH)) {
              throw new HttpError(400, `${name}: the JSON is nested more than ${MAX_JSON_DEPTH} levels deep.`);
            }
          }
        }
      } else checkJsonDepth(req.body);
      next();
    },
  ];
}
