// Passkeys on the login page, the second step and /account/factors. No inline script anywhere:
// the pages carry their data in data-* attributes, and their CSP allows script-src 'self' only.
// Uses the @simplewebauthn/browser UMD bundle (window.SimpleWebAuthnBrowser), served from /assets/vendor/.
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;
  if (!lib || !lib.browserSupportsWebAuthn()) return;

  function post(url, csrf, fields) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json', 'X-CSRF-Token': csrf },
      body: new URLSearchParams(fields),
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (!res.ok) {
          var err = new Error(body.error_description || body.message || 'The passkey could not be used.');
          err.code = typeof body.error === 'string' ? body.error : undefined;
          err.redirectTo = typeof body.redirect_to === 'string' && /^\/(?!\/)/.test(body.redirect_to) ? body.redirect_to : undefined;
          throw err;
        }
        return body;
      });
    });
  }

  function showError(box, err) {
    var el = box.querySelector('[role="alert"]');
    if (!el || (err && err.name === 'AbortError')) return;
    // The page's words (data-error-<code>, else data-error) in its language; the JSON's
    // error_description is English, for API clients. A box without them shows that text.
    var byCode = err && err.code ? box.getAttribute('data-error-' + String(err.code).replace(/_/g, '-')) : null;
    el.textContent = byCode || box.getAttribute('data-error') || (err && err.message) || 'The passkey could not be used.';
    el.hidden = false;
  }

  // ---- Sign-in: the login page (no password) and the second step ---------------------------------
  var login = document.querySelector('[data-passkey="login"], [data-passkey="factor"]');
  if (login) {
    var challenge = login.getAttribute('data-challenge');
    var csrf = login.getAttribute('data-csrf');
    var signIn = function (autofill) {
      var chosen = false;
      return post(login.getAttribute('data-options'), csrf, { challenge: challenge })
        .then(function (options) { return lib.startAuthentication({ optionsJSON: options, useBrowserAutofill: autofill }); })
        .then(function (credential) {
          chosen = true;
          var remember = document.getElementById('remember');
          return post(login.getAttribute('data-verify'), csrf, { challenge: challenge, credential: JSON.stringify(credential), remember: remember && remember.checked ? '1' : '' });
        })
        .then(function (body) { window.location.assign(body.redirect_to); })
        .catch(function (err) {
          // The autofill offer runs unasked on page load: until a passkey is picked from it, a
          // failure (no authenticator, the browser declining) is nobody's error to read.
          if (autofill && !chosen) return;
          showError(login, err);
        });
    };
    login.hidden = false;
    login.querySelector('button').addEventListener('click', function () { signIn(false); });
    // Conditional mediation: passkeys offered in the email field's autofill.
    if (login.getAttribute('data-passkey') === 'login') {
      lib.browserSupportsWebAuthnAutofill().then(function (yes) { if (yes) signIn(true); });
    }
  }

  // ---- Registration in /account/factors ----------------------------------------------------------
  var register = document.querySelector('[data-passkey="register"]');
  if (register) {
    var rcsrf = register.getAttribute('data-csrf');
    register.hidden = false;
    register.querySelector('button').addEventListener('click', function () {
      var label = register.querySelector('input[name="label"]');
      post(register.getAttribute('data-options'), rcsrf, {})
        .then(function (options) { return lib.startRegistration({ optionsJSON: options }); })
        .then(function (credential) {
          return post(register.getAttribute('data-verify'), rcsrf, { credential: JSON.stringify(credential), label: label ? label.value : '' });
        })
        .then(function (body) { window.location.assign(body.redirect_to); })
        .catch(function (err) {
          // The sign-in grew too old while the page was open: confirm it's you at Hydra, then back here.
          if (err.code === 'reauthentication_required' && err.redirectTo) return window.location.assign(err.redirectTo);
          showError(register, err);
        });
    });
  }
})();
