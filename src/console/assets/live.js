// Live refresh, the console's only script: every element with data-live is re-read from that
// URL every few seconds and its content replaced with the server's rendering (escaped there).
// Without JavaScript the pages are the same, refreshed by reloading.
(function () {
  'use strict';
  var INTERVAL_MS = 3000;
  var elements = document.querySelectorAll('[data-live]');
  elements.forEach(function (element) {
    var timer = setInterval(function () {
      // Someone is reading an attempt's request and answer: a refresh would fold it away.
      if (element.querySelector('details[open]')) return;
      fetch(element.getAttribute('data-live'), { credentials: 'same-origin', headers: { Accept: 'text/html' } })
        .then(function (response) {
          // A session that ended redirects to the login form: show it rather than splice it in.
          if (response.redirected || !response.ok) {
            clearInterval(timer);
            if (response.redirected) window.location.reload();
            return undefined;
          }
          return response.text();
        })
        .then(function (html) {
          if (html !== undefined) element.innerHTML = html;
        })
        .catch(function () {
          // The gateway restarting or the port-forward dropping: try again at the next tick.
        });
    }, INTERVAL_MS);
  });
})();
