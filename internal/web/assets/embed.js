// hitcounter embed: counts one view of the page that includes it and shows
// the count. Use it with one line of HTML:
//
//   <script async src="https://API/embed.js" data-counter="home"></script>
//
// data-counter names the counter (it must exist). data-target, optional, is
// the id of the element whose text becomes the count; without it, the count
// is written in a <span class="hitcounter-count"> right after the script tag.
// The API is the one this file was loaded from (its URL may carry a stage
// prefix such as /Prod/). No cookies are sent. If the API cannot be reached
// or refuses, the page is left as it was.
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || !script.src || !window.fetch) {
    return;
  }
  var name = script.getAttribute('data-counter') || '';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) {
    return;
  }
  var targetID = script.getAttribute('data-target');
  // The API base is this script's URL without its last path segment.
  var base = script.src.replace(/[?#].*$/, '').replace(/[^/]*$/, '');
  var url = base + 'counters/' + encodeURIComponent(name) + '/increment';

  function show(count) {
    var text = String(count);
    var target = targetID ? document.getElementById(targetID) : null;
    if (target) {
      target.textContent = text;
      return;
    }
    if (targetID && document.readyState === 'loading') {
      // An async script may run before the element is parsed.
      document.addEventListener('DOMContentLoaded', function () {
        var t = document.getElementById(targetID);
        if (t) {
          t.textContent = text;
        }
      });
      return;
    }
    if (targetID || !script.parentNode) {
      return;
    }
    var span = document.createElement('span');
    span.className = 'hitcounter-count';
    span.textContent = text;
    script.parentNode.insertBefore(span, script.nextSibling);
  }

  var options = { method: 'POST', mode: 'cors', credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer' };
  var timer;
  if (window.AbortController) {
    var abort = new AbortController();
    options.signal = abort.signal;
    timer = setTimeout(function () { abort.abort(); }, 10000);
  }
  fetch(url, options)
    .then(function (res) {
      return res.ok ? res.json() : null;
    })
    .then(function (data) {
      if (data && typeof data.count === 'number') {
        show(data.count);
      }
    })
    .catch(function () {
      // The API is down or refused: leave the page as it is.
    })
    .then(function () {
      clearTimeout(timer);
    });
})();
