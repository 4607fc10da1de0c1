import type { Response } from 'express';

/**
 * The enrolment pages show the QR code as an SVG data: URI in an <img> (no script runs; an SVG
 * loaded as an image cannot run any either). Only those pages widen img-src with `data:`.
 */
export function allowDataImages(res: Response): void {
  const header = res.getHeader('Content-Security-Policy');
  if (typeof header !== 'string' || /img-src [^;]*data:/.test(header)) return;
  res.setHeader('Content-Security-Policy', header.replace(/img-src ([^;]*)/, 'img-src $1 data:'));
}

/**
 * The passkey pages run two scripts of our own (the @simplewebauthn/browser bundle and
 * public/passkeys.js) and post to this origin with fetch: `script-src 'self'` and
 * `connect-src 'self'` there, and nowhere else. Still no inline script.
 */
export function allowOwnScripts(res: Response): void {
  const header = res.getHeader('Content-Security-Policy');
  if (typeof header !== 'string' || header.includes('script-src')) return;
  res.setHeader('Content-Security-Policy', `${header};script-src 'self';connect-src 'self'`);
}
