// hitcounter dashboard: a page of counters with their counts and hits per
// day, on one scale, with a name-prefix search; a page per counter
// (?counter=NAME) with its hits and unique visitors per hour or day and
// the lines that put it on a page. Every URL is relative to the page, so
// the dashboard works under an API Gateway stage prefix (https://…/Prod/)
// as well as at the root. The API key, when one is needed, is kept in
// sessionStorage only: it is gone when the tab closes.
//
// What an open tab costs: the list sends one request per refresh (every
// 20 s: 3 a minute), whatever the number of counters: GET /counters with
// stats for the page shown, and after the first answer only since
// yesterday (older days cannot change); a counter page sends two every
// 40 s (3 a minute). Nothing moves focus unless the user acted.
'use strict';

(function () {
  const KEY_STORAGE = 'hitcounter.apiKey';
  const LIST_REFRESH_MS = 20000;
  const COUNTER_REFRESH_MS = 40000;
  const DAYS = 30;
  const HOURS = 48;
  const PAGE_SIZE = 25;
  const CONFIRM_MS = 5000;
  const DAY_MS = 86400000;
  const HOUR_MS = 3600000;
  const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const $ = (id) => document.getElementById(id);

  // ---- API and status -------------------------------------------------

  function apiKey() {
    try {
      return sessionStorage.getItem(KEY_STORAGE) || '';
    } catch (e) {
      return '';
    }
  }

  function setAPIKey(key) {
    try {
      if (key) {
        sessionStorage.setItem(KEY_STORAGE, key);
      } else {
        sessionStorage.removeItem(KEY_STORAGE);
      }
    } catch (e) {
      // Storage disabled: the key lasts until the page is left.
    }
    showKeyState();
  }

  function showKeyState() {
    $('key-state').textContent = apiKey()
      ? 'An API key is set for this tab.'
      : 'No API key is set: admin actions work only if this API does not require one.';
  }

  // setStatus shows text in the live region; the same text again is not
  // announced again.
  function setStatus(text, isError) {
    const el = $('status');
    if (el.textContent !== text) {
      el.textContent = text;
    }
    el.classList.toggle('error', Boolean(isError));
  }

  // api sends one request to the API and resolves to {status, data}; it
  // rejects only when the API cannot be reached.
  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    const key = apiKey();
    if (key) {
      headers['X-Api-Key'] = key;
    }
    const init = { method, headers, cache: 'no-store', credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    let data = null;
    if (res.status !== 204) {
      try {
        data = await res.json();
      } catch (e) {
        data = null;
      }
    }
    return { status: res.status, data };
  }

  function counterPath(name, suffix) {
    return 'counters/' + encodeURIComponent(name) + (suffix || '');
  }

  function errorText(res) {
    const d = res.data;
    if (d && d.error && typeof d.error.message === 'string') {
      return d.error.message;
    }
    if (d && typeof d.message === 'string') {
      return d.message; // API Gateway's own errors
    }
    return 'the API answered ' + res.status;
  }

  // needsKey reports whether res refused a request for want of an API key:
  // 401 from the service, 403 from API Gateway.
  function needsKey(res) {
    return res.status === 401 || res.status === 403;
  }

  // askForKey says that a key is needed; it moves focus to the key field
  // only when the user asked for what needed it (byUser), never on a
  // refresh the page made by itself.
  function askForKey(byUser) {
    setStatus(apiKey() ? 'The API key was refused: enter a valid one.' : 'This API needs an admin API key: enter it below.', true);
    if (byUser) {
      $('key-input').focus();
    }
  }

  // ---- time and charts ---------------------------------------------------

  function dayStart(t) {
    return Math.floor(t / DAY_MS) * DAY_MS;
  }

  function isoDay(ms) {
    return new Date(ms).toISOString().slice(0, 10);
  }

  // bucketStarts returns the starts (ms) of the last n buckets of width w,
  // oldest first, ending with the current one.
  function bucketStarts(n, w) {
    const last = Math.floor(Date.now() / w) * w;
    const out = [];
    for (let i = n - 1; i >= 0; i--) {
      out.push(last - i * w);
    }
    return out;
  }

  function plural(n, one, many) {
    return n + ' ' + (n === 1 ? one : many);
  }

  // barChart draws values (oldest first) as an SVG bar chart scaled to max
  // (the same max for every chart of a page: one scale), with a summary as
  // its accessible name and a title per bar.
  function barChart(values, labels, max, summary, cls) {
    const W = 240;
    const H = 40;
    const barW = W / values.length;
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('class', cls || 'chart');
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', summary);
    const title = document.createElementNS(SVG_NS, 'title');
    title.textContent = summary;
    svg.append(title);
    values.forEach((v, i) => {
      const h = max > 0 && v > 0 ? Math.max(1, (v / max) * (H - 1)) : 1;
      const rect = document.createElementNS(SVG_NS, 'rect');
      rect.setAttribute('x', (i * barW + barW * 0.1).toFixed(2));
      rect.setAttribute('y', (H - h).toFixed(2));
      rect.setAttribute('width', (barW * 0.8).toFixed(2));
      rect.setAttribute('height', h.toFixed(2));
      if (!(v > 0)) {
        rect.setAttribute('class', 'zero');
      }
      const t = document.createElementNS(SVG_NS, 'title');
      t.textContent = labels[i];
      rect.append(t);
      svg.append(rect);
    });
    return svg;
  }

  // ---- the list -----------------------------------------------------------

  const list = {
    rows: new Map(), // counter name -> row elements
    history: new Map(), // counter name -> Map(day start ms -> hits)
    prefix: '',
    cursors: [''], // cursors[i]: the cursor of page i
    page: 0,
    next: '',
    statsServed: true,
    refreshing: null,
  };

  // listPath is the one request of a refresh: the page shown, with each
  // counter's hits per day since from (yesterday once every counter on the
  // page has its history: older days cannot change any more).
  function listPath() {
    const days = bucketStarts(DAYS, DAY_MS);
    const known = list.rows.size > 0 && [...list.rows.keys()].every((n) => list.history.has(n));
    const from = known ? days[DAYS - 2] : days[0];
    let path = 'counters?limit=' + PAGE_SIZE + '&stats=day&from=' + isoDay(from);
    if (list.prefix) {
      path += '&prefix=' + encodeURIComponent(list.prefix);
    }
    const cursor = list.cursors[list.page];
    if (cursor) {
      path += '&cursor=' + encodeURIComponent(cursor);
    }
    return { path, full: !known };
  }

  async function refreshList(byUser) {
    if (list.refreshing) {
      return list.refreshing;
    }
    list.refreshing = (async () => {
      try {
        const { path, full } = listPath();
        const res = await api('GET', path);
        if (res.status !== 200 || !res.data || !Array.isArray(res.data.counters)) {
          if (needsKey(res)) {
            askForKey(byUser);
          } else if (res.status === 400 && list.cursors[list.page]) {
            // A cursor of another store or version: back to the first page.
            list.cursors = [''];
            list.page = 0;
            setStatus('The listing started again from the first page.', true);
          } else {
            setStatus('Could not list the counters: ' + errorText(res), true);
          }
          return;
        }
        // By name on every store (DynamoDB lists a page in hash order).
        const counters = res.data.counters.slice().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        list.next = res.data.next_cursor || '';
        list.statsServed = counters.length === 0 || counters.some((c) => Array.isArray(c.points));
        for (const c of counters) {
          if (Array.isArray(c.points)) {
            mergeHistory(c.name, c.points, full || !list.history.has(c.name));
          }
        }
        renderList(counters);
        $('updated').textContent = 'Updated at ' + new Date().toLocaleTimeString() + '.';
        if ($('status').classList.contains('error')) {
          setStatus('');
        }
      } catch (e) {
        setStatus('The API cannot be reached; the dashboard tries again in ' + LIST_REFRESH_MS / 1000 + ' seconds.', true);
      } finally {
        list.refreshing = null;
      }
    })();
    return list.refreshing;
  }

  // mergeHistory keeps a counter's hits per day; complete says the points
  // cover the whole 30 days (else a counter new to the page waits for the
  // next refresh, which asks for every day again).
  function mergeHistory(name, points, complete) {
    let h = list.history.get(name);
    if (!h) {
      if (!complete) {
        return;
      }
      h = new Map();
      list.history.set(name, h);
    }
    for (const p of points) {
      const t = Date.parse(p.start);
      if (!Number.isNaN(t) && Number.isFinite(p.hits)) {
        h.set(dayStart(t), p.hits);
      }
    }
    const oldest = bucketStarts(DAYS, DAY_MS)[0];
    for (const day of h.keys()) {
      if (day < oldest) {
        h.delete(day);
      }
    }
  }

  // renderList updates the table in place, so that focus and pending
  // confirmations survive a refresh; every chart shares one scale.
  function renderList(counters) {
    const tbody = $('counter-rows');
    const seen = new Set();
    const days = bucketStarts(DAYS, DAY_MS);
    let max = 0;
    for (const c of counters) {
      const h = list.history.get(c.name);
      if (h) {
        for (const d of days) {
          max = Math.max(max, h.get(d) || 0);
        }
      }
    }
    counters.forEach((c, i) => {
      seen.add(c.name);
      let row = list.rows.get(c.name);
      if (!row) {
        row = newRow(c.name);
        list.rows.set(c.name, row);
      }
      row.count.textContent = String(c.count);
      const h = list.history.get(c.name);
      if (h && list.statsServed) {
        const values = days.map((d) => h.get(d) || 0);
        const total = values.reduce((s, v) => s + v, 0);
        let peak = 0;
        values.forEach((v, j) => {
          if (v > values[peak]) {
            peak = j;
          }
        });
        const summary = c.name + ': ' + plural(total, 'hit', 'hits') + ' in the last ' + DAYS + ' days' +
          (values[peak] > 0 ? ', most on ' + isoDay(days[peak]) + ' (' + values[peak] + ')' : '');
        const labels = days.map((d, j) => isoDay(d) + ': ' + plural(values[j], 'hit', 'hits'));
        row.chart.replaceChildren(barChart(values, labels, max, summary));
      } else if (!list.statsServed) {
        row.chart.replaceChildren();
      }
      if (tbody.children[i] !== row.tr) {
        tbody.insertBefore(row.tr, tbody.children[i] || null);
      }
    });
    for (const [name, row] of list.rows) {
      if (!seen.has(name)) {
        if (row.tr.contains(document.activeElement)) {
          $('counters-heading').focus(); // the row the user was on is gone
        }
        row.tr.remove();
        list.rows.delete(name);
        list.history.delete(name);
      }
    }
    $('scale').textContent = list.statsServed ? '(one scale; tallest bar: ' + plural(max, 'hit', 'hits') + ')' : '';
    $('stats-note').hidden = list.statsServed;
    $('empty').hidden = counters.length > 0;
    $('empty').textContent = list.prefix ? 'No counter name starts with "' + list.prefix + '".' : 'No counters yet: create one above.';
    $('page-info').textContent = '(page ' + (list.page + 1) + ')';
    $('prev').disabled = list.page === 0;
    $('next').disabled = !list.next;
  }

  function newRow(name) {
    const tr = document.createElement('tr');
    tr.dataset.counter = name;
    const nameCell = document.createElement('th');
    nameCell.scope = 'row';
    nameCell.className = 'name';
    const link = document.createElement('a');
    link.href = '?counter=' + encodeURIComponent(name);
    link.textContent = name;
    nameCell.append(link);
    const count = document.createElement('td');
    count.className = 'num count';
    const chart = document.createElement('td');
    chart.className = 'chart-cell';
    const actions = document.createElement('td');
    actions.className = 'actions';
    actions.append(
      confirmButton('Reset', 'Reset ' + name + ' to 0', () => resetCounter(name)),
      confirmButton('Delete', 'Delete ' + name, () => deleteCounter(name)),
    );
    tr.append(nameCell, count, chart, actions);
    return { tr, count, chart };
  }

  // confirmButton asks for a second press within CONFIRM_MS before it acts.
  // The button is never disabled (a disabled button drops focus to the
  // page): a press while it acts does nothing.
  function confirmButton(text, label, action) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'danger';
    b.textContent = text;
    b.setAttribute('aria-label', label);
    const confirmText = 'Press again to confirm: ' + label + '.';
    let armed = null;
    let busy = false;
    const disarm = () => {
      clearTimeout(armed);
      armed = null;
      b.className = 'danger';
      b.textContent = text;
      b.setAttribute('aria-label', label);
      if ($('status').textContent === confirmText) {
        setStatus('');
      }
    };
    b.addEventListener('click', async () => {
      if (busy) {
        return;
      }
      if (!armed) {
        armed = setTimeout(disarm, CONFIRM_MS);
        b.className = 'confirm';
        b.textContent = 'Confirm ' + text.toLowerCase();
        b.setAttribute('aria-label', 'Confirm: ' + label);
        setStatus(confirmText);
        return;
      }
      disarm();
      busy = true;
      b.setAttribute('aria-disabled', 'true');
      try {
        await action();
      } finally {
        busy = false;
        b.removeAttribute('aria-disabled');
      }
    });
    return b;
  }

  async function act(description, method, path, body, okStatuses) {
    let res;
    try {
      res = await api(method, path, body);
    } catch (e) {
      setStatus(description + ' failed: the API cannot be reached.', true);
      return false;
    }
    if (okStatuses.includes(res.status)) {
      return true;
    }
    if (needsKey(res)) {
      askForKey(true);
    } else {
      setStatus(description + ' failed: ' + errorText(res), true);
    }
    return false;
  }

  async function createCounter(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const name = $('create-name').value.trim();
    const countText = $('create-count').value.trim() || '0';
    if (!NAME_RE.test(name)) {
      setStatus('A counter name is a letter or digit, then up to 127 letters, digits, ".", "_" or "-".', true);
      $('create-name').focus();
      return;
    }
    if (!/^\d{1,16}$/.test(countText) || Number(countText) > Number.MAX_SAFE_INTEGER) {
      setStatus('The starting count is a whole number from 0 to ' + Number.MAX_SAFE_INTEGER + '.', true);
      $('create-count').focus();
      return;
    }
    if (await act('Creating ' + name, 'POST', 'counters', { name, count: Number(countText) }, [201])) {
      form.reset();
      setStatus('Created ' + name + '.');
      await refreshList(true);
    }
  }

  async function resetCounter(name) {
    if (await act('Resetting ' + name, 'PUT', counterPath(name), { count: 0 }, [200, 201])) {
      setStatus('Reset ' + name + ' to 0.');
      await refreshList(true);
    }
  }

  async function deleteCounter(name) {
    if (await act('Deleting ' + name, 'DELETE', counterPath(name), undefined, [204, 404])) {
      setStatus('Deleted ' + name + '.');
      $('counters-heading').focus();
      await refreshList(true);
    }
  }

  function goToPage(page) {
    list.page = page;
    list.rows.forEach((row) => row.tr.remove());
    list.rows.clear();
    refreshList(true).then(() => $('counters-heading').focus());
  }

  function startList() {
    showKeyState();
    $('key-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const input = $('key-input');
      setAPIKey(input.value.trim());
      input.value = '';
      setStatus('Using the API key for this tab.');
      refreshList(true);
    });
    $('key-forget').addEventListener('click', () => {
      setAPIKey('');
      setStatus('Forgot the API key.');
      refreshList(true);
    });
    $('create-form').addEventListener('submit', createCounter);
    $('search-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const prefix = $('search').value.trim();
      if (prefix && !NAME_RE.test(prefix)) {
        setStatus('A name starts with a letter or digit, then letters, digits, ".", "_" or "-".', true);
        return;
      }
      list.prefix = prefix;
      list.cursors = [''];
      goToPage(0);
    });
    $('prev').addEventListener('click', () => {
      if (list.page > 0) {
        goToPage(list.page - 1);
      }
    });
    $('next').addEventListener('click', () => {
      if (list.next) {
        list.cursors[list.page + 1] = list.next;
        goToPage(list.page + 1);
      }
    });
    $('refresh').addEventListener('click', () => refreshList(true));
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) {
        refreshList(false);
      }
    });
    setInterval(() => {
      if (!document.hidden) {
        refreshList(false);
      }
    }, LIST_REFRESH_MS);
    refreshList(false);
  }

  // ---- a counter's page ---------------------------------------------------

  const one = {
    name: '',
    period: 'day',
    points: { day: new Map(), hour: new Map() }, // bucket start ms -> point
    loaded: { day: false, hour: false },
    refreshing: null,
  };

  function periodSpec(period) {
    return period === 'hour'
      ? { n: HOURS, w: HOUR_MS, unit: 'hour', span: '48 hours' }
      : { n: DAYS, w: DAY_MS, unit: 'day', span: '30 days' };
  }

  // statsPath asks for the whole span the first time, then only from the
  // bucket before the current one: older buckets cannot change.
  function statsPath(period) {
    const spec = periodSpec(period);
    const starts = bucketStarts(spec.n, spec.w);
    const from = one.loaded[period] ? starts[spec.n - 2] : starts[0];
    const fromText = period === 'hour' ? new Date(from).toISOString().replace('.000Z', 'Z') : isoDay(from);
    return counterPath(one.name, '/stats?period=' + period + '&from=' + encodeURIComponent(fromText));
  }

  async function refreshCounter() {
    if (one.refreshing) {
      return one.refreshing;
    }
    one.refreshing = (async () => {
      try {
        const period = one.period;
        const [c, s] = await Promise.all([api('GET', counterPath(one.name)), api('GET', statsPath(period))]);
        if (c.status === 404) {
          setStatus('There is no counter named ' + one.name + '.', true);
          $('total-count').textContent = '–';
          return;
        }
        if (c.status === 200 && c.data) {
          $('total-count').textContent = String(c.data.count);
        }
        if (s.status === 200 && s.data && Array.isArray(s.data.points)) {
          const m = one.points[period];
          for (const p of s.data.points) {
            const t = Date.parse(p.start);
            if (!Number.isNaN(t)) {
              m.set(t, p);
            }
          }
          one.loaded[period] = true;
          renderCounter();
        } else if (s.status !== 200) {
          setStatus('Could not read the statistics: ' + errorText(s), true);
          return;
        }
        if ($('status').classList.contains('error')) {
          setStatus('');
        }
      } catch (e) {
        setStatus('The API cannot be reached; the page tries again in ' + COUNTER_REFRESH_MS / 1000 + ' seconds.', true);
      } finally {
        one.refreshing = null;
      }
    })();
    return one.refreshing;
  }

  function renderCounter() {
    const period = one.period;
    const spec = periodSpec(period);
    const starts = bucketStarts(spec.n, spec.w);
    const m = one.points[period];
    const pts = starts.map((s) => m.get(s) || { hits: 0 });
    const hits = pts.map((p) => (Number.isFinite(p.hits) ? p.hits : 0));
    const hasUniques = pts.some((p) => Number.isFinite(p.uniques));
    const uniques = pts.map((p) => (Number.isFinite(p.uniques) ? p.uniques : 0));
    const bots = pts.reduce((s, p) => s + (Number.isFinite(p.bots) ? p.bots : 0), 0);
    const hasBots = pts.some((p) => Number.isFinite(p.bots));
    const label = (s) => (period === 'hour' ? new Date(s).toISOString().slice(0, 13).replace('T', ' ') + ':00' : isoDay(s));
    const total = hits.reduce((s, v) => s + v, 0);
    const maxHits = Math.max(0, ...hits);
    $('hits-caption').textContent = 'Hits per ' + spec.unit + ', last ' + spec.span + ' (UTC; tallest bar: ' + plural(maxHits, 'hit', 'hits') + ')';
    $('hits-chart').replaceChildren(barChart(hits, starts.map((s, i) => label(s) + ': ' + plural(hits[i], 'hit', 'hits')), maxHits,
      one.name + ': ' + plural(total, 'hit', 'hits') + ' in the last ' + spec.span, 'chart big'));
    $('total-hits-label').textContent = 'Hits, last ' + spec.span;
    $('total-hits').textContent = String(total);
    if (hasUniques) {
      const maxU = Math.max(0, ...uniques);
      $('uniques-caption').textContent = 'Unique visitors per ' + spec.unit + ', last ' + spec.span + ' (UTC; tallest bar: ' + maxU + ')';
      $('uniques-chart').replaceChildren(barChart(uniques, starts.map((s, i) => label(s) + ': ' + plural(uniques[i], 'visitor', 'visitors')), maxU,
        one.name + ': unique visitors per ' + spec.unit + ', at most ' + maxU, 'chart big uniques'));
      $('uniques-note').hidden = true;
      $('total-uniques').textContent = String(uniques[uniques.length - 1]);
      $('total-uniques-label').textContent = period === 'hour' ? 'Unique visitors this hour' : 'Unique visitors today';
    } else {
      $('uniques-caption').textContent = 'Unique visitors per ' + spec.unit;
      $('uniques-chart').replaceChildren();
      $('uniques-note').hidden = false;
      $('total-uniques').textContent = 'not counted';
    }
    $('total-bots-label').textContent = 'Bots left out, last ' + spec.span;
    $('total-bots').textContent = hasBots ? String(bots) : 'not counted';
  }

  // snippets are the copy-ready lines that put the counter on a page.
  function snippets(name) {
    const base = new URL('.', location.href).href;
    const enc = encodeURIComponent(name);
    const hit = base + 'counters/' + enc + '/hit.svg';
    const badge = base + 'counters/' + enc + '/badge.svg';
    const shields = 'https://img.shields.io/endpoint?url=' + encodeURIComponent(base + 'counters/' + enc + '/shields.json');
    return [
      { id: 'markdown', title: 'Markdown badge (counts each view)', text: '![hits](' + hit + ')' },
      { id: 'html', title: 'HTML badge (counts each view)', text: '<img src="' + hit + '" alt="hits">' },
      { id: 'hit', title: 'hit.svg address', text: hit },
      { id: 'badge', title: 'badge.svg address (shows the count, adds nothing)', text: badge },
      { id: 'shields', title: 'shields.io endpoint badge', text: '![hits](' + shields + ')' },
      { id: 'embed', title: 'Embed script (counts each view, shows the count as text)', text: '<script async src="' + base + 'embed.js" data-counter="' + name + '"></script>' },
    ];
  }

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (e) {
      // No clipboard API here (an insecure origin): select and copy.
      const ta = document.createElement('textarea');
      ta.value = text;
      ta.setAttribute('readonly', '');
      ta.className = 'offscreen';
      document.body.append(ta);
      ta.select();
      let ok = false;
      try {
        ok = document.execCommand('copy');
      } catch (e2) {
        ok = false;
      }
      ta.remove();
      return ok;
    }
  }

  function renderSnippets(name) {
    const ul = $('snippets');
    ul.replaceChildren();
    for (const s of snippets(name)) {
      const li = document.createElement('li');
      const title = document.createElement('p');
      title.className = 'snippet-title';
      title.id = 'snippet-' + s.id + '-title';
      title.textContent = s.title;
      const code = document.createElement('code');
      code.id = 'snippet-' + s.id;
      code.textContent = s.text;
      const pre = document.createElement('pre');
      pre.append(code);
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'secondary copy';
      b.dataset.snippet = s.id;
      b.textContent = 'Copy';
      b.setAttribute('aria-label', 'Copy: ' + s.title);
      b.addEventListener('click', async () => {
        const ok = await copyText(s.text);
        setStatus(ok ? 'Copied the ' + s.title + '.' : 'Could not copy: select the line and copy it.', !ok);
      });
      li.append(title, pre, b);
      ul.append(li);
    }
  }

  function startCounter(name) {
    one.name = name;
    document.title = name + ' · hitcounter';
    $('list-view').hidden = true;
    $('counter-view').hidden = false;
    $('counter-heading').textContent = name;
    renderSnippets(name);
    for (const input of document.querySelectorAll('input[name="period"]')) {
      input.addEventListener('change', () => {
        if (!input.checked) {
          return;
        }
        one.period = input.value;
        if (one.loaded[one.period]) {
          renderCounter();
        }
        refreshCounter();
      });
    }
    setInterval(() => {
      if (!document.hidden) {
        refreshCounter();
      }
    }, COUNTER_REFRESH_MS);
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) {
        refreshCounter();
      }
    });
    refreshCounter();
  }

  function start() {
    const name = new URLSearchParams(location.search).get('counter');
    if (name !== null) {
      if (NAME_RE.test(name)) {
        startCounter(name);
        return;
      }
      setStatus('"' + name + '" is not a counter name.', true);
    }
    startList();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
