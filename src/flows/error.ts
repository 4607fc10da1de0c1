import { Router } from 'express';
import { translator } from '../http/locale.js';
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
    const shown = { error, error_description: field('error_description'), error_hint: field('error_hint') };
    // The language switcher reloads this page with what it shows, not with the whole query.
    const languageSwitch = res.locals.languageSwitch as { returnTo: string } | undefined;
    if (languageSwitch) {
      const query = new URLSearchParams(Object.entries(shown).filter((entry): entry is [string, string] => entry[1] !== undefined));
      languageSwitch.returnTo = `${req.baseUrl}${req.path}?${query}`;
    }
    const t = translator(res);
    res.render('error', {
      title: t('error.hydra_title'),
      // Hydra's error_description is Hydra's own (English) words; only our fallback is translated.
      message: shown.error_description ?? t('error.hydra_message'),
      status: undefined,
      details: { error, hint: shown.error_hint },
    });
  });
  return router;
}
