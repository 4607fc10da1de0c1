import { Router } from 'express';
import { clip } from '../http/text.js';
import { readString } from './challenge.js';

/** Hydra's `urls.error`: Hydra redirects here with error, error_description and error_hint. */
export function errorPageRouter(): Router {
  const router = Router();
  router.get('/error', (req, res) => {
    // Hydra's words, cut to a page's worth (the query could carry more).
    const field = (name: string) => {
      const value = readString(req.query[name]);
      return value ? clip(value) : undefined;
    };
    const error = field('error');
    res.render('error', {
      title: 'Sign-in could not be completed',
      message: field('error_description') ?? 'The authorization server reported a problem with this request.',
      status: undefined,
      details: { error, hint: field('error_hint') },
    });
  });
  return router;
}
