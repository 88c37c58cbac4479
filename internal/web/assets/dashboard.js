// hitcounter dashboard: lists the counters with their counts, charts each
// one's hits per day, and lets an admin create, reset and delete counters.
// Every URL is relative to the page, so the dashboard works under an API
// Gateway stage prefix (https://…/Prod/) as well as at the root. The API
// key, when one is needed, is kept in sessionStorage only: it is gone when
// the tab closes.
'use strict';

(function () {
  const KEY_STORAGE = 'hitcounter.apiKey';
  const REFRESH_MS = 15000;
  const DAYS = 30;
  const PAGE_LIMIT = 1000;
  const MAX_PAGES = 20;
  const MAX_CHARTS = 100; // stats requests per refresh, at most
  const STATS_CONCURRENCY = 4;
  const CONFIRM_MS = 5000;
  const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const $ = (id) => document.getElementById(id);
  const rows = new Map(); // counter name -> row elements
  let statsServed = true; // false once the API shows it has no stats route
  let refreshing = null;

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

  function setStatus(text, isError) {
    const el = $('status');
    el.textContent = text;
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

  function askForKey() {
    setStatus(apiKey() ? 'The API key was refused: enter a valid one.' : 'This API needs an admin API key: enter it below.', true);
    $('key-input').focus();
  }

  async function listCounters() {
    const counters = [];
    let cursor = '';
    for (let page = 0; page < MAX_PAGES; page++) {
      let path = 'counters?limit=' + PAGE_LIMIT;
      if (cursor) {
        path += '&cursor=' + encodeURIComponent(cursor);
      }
      const res = await api('GET', path);
      if (res.status !== 200 || !res.data || !Array.isArray(res.data.counters)) {
        return { res };
      }
      counters.push(...res.data.counters);
      cursor = res.data.next_cursor || '';
      if (!cursor) {
        break;
      }
    }
    return { counters };
  }

  async function refresh() {
    if (refreshing) {
      return refreshing;
    }
    refreshing = (async () => {
      try {
        const { counters, res } = await listCounters();
        if (!counters) {
          if (needsKey(res)) {
            askForKey();
          } else {
            setStatus('Could not list the counters: ' + errorText(res), true);
          }
          return;
        }
        render(counters);
        $('updated').textContent = 'Updated at ' + new Date().toLocaleTimeString() + '.';
        if ($('status').classList.contains('error')) {
          setStatus('');
        }
        await loadCharts(counters.slice(0, MAX_CHARTS));
      } catch (e) {
        setStatus('The API cannot be reached; retrying in ' + REFRESH_MS / 1000 + ' seconds.', true);
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  // render updates the table in place, so that focus and pending
  // confirmations survive a refresh.
  function render(counters) {
    const tbody = $('counter-rows');
    const seen = new Set();
    counters.forEach((c, i) => {
      seen.add(c.name);
      let row = rows.get(c.name);
      if (!row) {
        row = newRow(c.name);
        rows.set(c.name, row);
      }
      row.count.textContent = String(c.count);
      if (tbody.children[i] !== row.tr) {
        tbody.insertBefore(row.tr, tbody.children[i] || null);
      }
    });
    for (const [name, row] of rows) {
      if (!seen.has(name)) {
        row.tr.remove();
        rows.delete(name);
      }
    }
    $('empty').hidden = counters.length > 0;
  }

  function newRow(name) {
    const tr = document.createElement('tr');
    tr.dataset.counter = name;
    const nameCell = document.createElement('th');
    nameCell.scope = 'row';
    nameCell.className = 'name';
    nameCell.textContent = name;
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
  function confirmButton(text, label, action) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'danger';
    b.textContent = text;
    b.setAttribute('aria-label', label);
    let armed = null;
    const disarm = () => {
      clearTimeout(armed);
      armed = null;
      b.className = 'danger';
      b.textContent = text;
      b.setAttribute('aria-label', label);
    };
    b.addEventListener('click', async () => {
      if (!armed) {
        armed = setTimeout(disarm, CONFIRM_MS);
        b.className = 'confirm';
        b.textContent = 'Confirm ' + text.toLowerCase();
        b.setAttribute('aria-label', 'Confirm: ' + label);
        setStatus('Press again to confirm: ' + label + '.');
        return;
      }
      disarm();
      b.disabled = true;
      try {
        await action();
      } finally {
        b.disabled = false;
      }
    });
    return b;
  }

  async function loadCharts(counters) {
    if (!statsServed) {
      return;
    }
    let next = 0;
    const worker = async () => {
      while (statsServed && next < counters.length) {
        const c = counters[next++];
        await loadChart(c.name);
      }
    };
    const workers = [];
    for (let i = 0; i < STATS_CONCURRENCY; i++) {
      workers.push(worker());
    }
    await Promise.all(workers);
  }

  async function loadChart(name) {
    const row = rows.get(name);
    if (!row) {
      return;
    }
    let res;
    try {
      res = await api('GET', counterPath(name, '/stats?period=day'));
    } catch (e) {
      return; // the next refresh tries again
    }
    if (res.status === 200 && res.data && Array.isArray(res.data.points)) {
      row.chart.replaceChildren(chart(name, res.data.points));
      return;
    }
    const err = res.data && res.data.error;
    if (res.status === 404 && err && /does not exist/.test(err.message)) {
      return; // the counter was deleted since it was listed
    }
    if (res.status === 404 || res.status === 405 || res.status === 400 || res.status === 403) {
      // No stats route here (an older server, or API Gateway without it).
      statsServed = false;
      $('stats-note').hidden = false;
      for (const r of rows.values()) {
        r.chart.textContent = '';
      }
    }
  }

  // chart draws hits per day for the last DAYS days (UTC) as an inline SVG
  // bar chart, with the numbers in its accessible name and bar titles.
  function chart(name, points) {
    const byDay = new Map();
    for (const p of points) {
      const t = new Date(p.start);
      if (!Number.isNaN(t.getTime()) && Number.isFinite(p.hits)) {
        const day = t.toISOString().slice(0, 10);
        byDay.set(day, (byDay.get(day) || 0) + p.hits);
      }
    }
    const days = [];
    const today = new Date();
    for (let i = DAYS - 1; i >= 0; i--) {
      const d = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - i));
      const day = d.toISOString().slice(0, 10);
      days.push({ day, hits: byDay.get(day) || 0 });
    }
    const total = days.reduce((s, d) => s + d.hits, 0);
    const peak = days.reduce((m, d) => (d.hits > m.hits ? d : m), days[0]);
    const W = 240;
    const H = 40;
    const barW = W / DAYS;
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('class', 'chart');
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    const summary = name + ': ' + total + ' hits in the last ' + DAYS + ' days' +
      (peak.hits > 0 ? ', most on ' + peak.day + ' (' + peak.hits + ')' : '');
    svg.setAttribute('aria-label', summary);
    const title = document.createElementNS(SVG_NS, 'title');
    title.textContent = summary;
    svg.append(title);
    days.forEach((d, i) => {
      const h = peak.hits > 0 ? Math.max(1, Math.round((d.hits / peak.hits) * (H - 2))) : 1;
      const rect = document.createElementNS(SVG_NS, 'rect');
      rect.setAttribute('x', (i * barW + 0.5).toFixed(2));
      rect.setAttribute('y', String(H - h));
      rect.setAttribute('width', (barW - 1).toFixed(2));
      rect.setAttribute('height', String(h));
      if (d.hits === 0) {
        rect.setAttribute('class', 'zero');
      }
      const t = document.createElementNS(SVG_NS, 'title');
      t.textContent = d.day + ': ' + d.hits + (d.hits === 1 ? ' hit' : ' hits');
      rect.append(t);
      svg.append(rect);
    });
    return svg;
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
      askForKey();
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
      await refresh();
    }
  }

  async function resetCounter(name) {
    if (await act('Resetting ' + name, 'PUT', counterPath(name), { count: 0 }, [200, 201])) {
      setStatus('Reset ' + name + ' to 0.');
      await refresh();
    }
  }

  async function deleteCounter(name) {
    if (await act('Deleting ' + name, 'DELETE', counterPath(name), undefined, [204, 404])) {
      setStatus('Deleted ' + name + '.');
      $('counters-heading').focus();
      await refresh();
    }
  }

  function start() {
    showKeyState();
    $('key-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const input = $('key-input');
      setAPIKey(input.value.trim());
      input.value = '';
      setStatus('Using the API key for this tab.');
      refresh();
    });
    $('key-forget').addEventListener('click', () => {
      setAPIKey('');
      setStatus('Forgot the API key.');
      refresh();
    });
    $('create-form').addEventListener('submit', createCounter);
    $('refresh').addEventListener('click', () => refresh());
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) {
        refresh();
      }
    });
    setInterval(() => {
      if (!document.hidden) {
        refresh();
      }
    }, REFRESH_MS);
    refresh();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
