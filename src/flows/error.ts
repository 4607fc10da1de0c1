import { Router } from 'express';
import { readString } from './challenge.js';

const MAX_FIELD = 1000;

/** Hydra's `urls.error`: Hydra redirects here with error, error_description and error_hint. */
export function errorPageRouter(): Router {
  const router = Router();
  router.get('/error', (req, res) => {
    const field = (name: string) => readString(req.query[name])?.slice(0, MAX_FIELD) || undefined;
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
