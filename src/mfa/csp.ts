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
