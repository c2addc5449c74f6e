// airut dashboard: live updates over server-sent events (task list, task timeline, conversation
// network log), the stop button, ticking durations.
// Served as a file because the Content-Security-Policy allows no inline script. The HTML it
// inserts comes from the server, already escaped; data from mail is never put into the page here.
'use strict';

(function () {
  const body = document.body;
  const csrf = body.dataset.csrf || '';
  const indicator = document.getElementById('live-indicator');

  function fragment(html) {
    const t = document.createElement('template');
    t.innerHTML = html;
    return t.content;
  }

  function formatDuration(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + 's';
    const m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + (s % 60) + 's';
    const h = Math.floor(m / 60);
    if (h < 48) return h + 'h ' + (m % 60) + 'm';
    return Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
  }

  function tick() {
    const now = Date.now();
    document.querySelectorAll('[data-since]').forEach(function (el) {
      const since = Number(el.getAttribute('data-since'));
      if (Number.isFinite(since)) el.textContent = formatDuration(now - since);
    });
  }
  setInterval(tick, 1000);

  function live(on) {
    if (indicator) indicator.hidden = !on;
  }

  function connect(url, handlers) {
    if (!window.EventSource) return null;
    const es = new EventSource(url);
    es.onopen = function () { live(true); };
    es.onerror = function () { live(false); };
    Object.keys(handlers).forEach(function (name) {
      es.addEventListener(name, function (ev) {
        let data;
        try { data = JSON.parse(ev.data); } catch (e) { return; }
        handlers[name](data);
      });
    });
    window.addEventListener('pagehide', function () { es.close(); });
    return es;
  }

  // ---- stop button (two clicks: the first arms it for a few seconds) ----
  function wireStop(root) {
    root.querySelectorAll('form.stop-form').forEach(function (form) {
      if (form.dataset.wired) return;
      form.dataset.wired = '1';
      const button = form.querySelector('[data-role="stop"]');
      const message = form.querySelector('[data-role="stop-message"]');
      const label = button.textContent;
      let armedUntil = 0;
      form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        if (Date.now() > armedUntil) {
          armedUntil = Date.now() + 5000;
          button.textContent = 'Click again to confirm';
          setTimeout(function () { if (Date.now() >= armedUntil) button.textContent = label; }, 5100);
          return;
        }
        armedUntil = 0;
        button.disabled = true;
        button.textContent = 'Stopping…';
        fetch(form.action, {
          method: 'POST',
          headers: { 'X-CSRF-Token': csrf, Accept: 'application/json' },
          credentials: 'same-origin',
        })
          .then(function (res) { return res.json().catch(function () { return { ok: false, message: 'HTTP ' + res.status }; }); })
          .then(function (r) {
            if (message) message.textContent = r.message || (r.ok ? 'Stopped.' : 'Could not stop the task.');
            if (!r.ok) { button.disabled = false; button.textContent = label; }
          })
          .catch(function () {
            if (message) message.textContent = 'The dashboard did not answer.';
            button.disabled = false;
            button.textContent = label;
          });
      });
    });
  }
  wireStop(document);

  // ---- tasks list ----
  const list = document.getElementById('task-list');
  if (list && list.dataset.stream) {
    connect(list.dataset.stream, {
      task: function (d) {
        const existing = list.querySelector('[data-task-id="' + Number(d.id) + '"]');
        if (d.remove) { if (existing) existing.remove(); return; }
        const frag = fragment(d.html);
        if (existing) { existing.replaceWith(frag); return; }
        const first = list.querySelector('[data-task-id]');
        if (first && Number(first.getAttribute('data-task-id')) > Number(d.id)) return; // older than this page's newest
        const empty = list.querySelector('.empty');
        if (empty) empty.remove();
        list.prepend(frag);
      },
    });
  }

  // ---- one task ----
  const timeline = document.getElementById('timeline');
  if (timeline && timeline.dataset.stream) {
    const summary = document.getElementById('task-summary');
    const after = Number(timeline.dataset.after || '0');
    connect(timeline.dataset.stream + '?after=' + after, {
      timeline: function (d) {
        if (timeline.querySelector('[data-event-id="' + Number(d.id) + '"]')) return;
        const empty = document.getElementById('timeline-empty');
        if (empty) empty.remove();
        timeline.append(fragment(d.html));
        timeline.dataset.after = String(d.id);
      },
      task: function (d) {
        if (!summary) return;
        summary.replaceChildren(fragment(d.html));
        summary.dataset.status = d.status;
        wireStop(summary);
      },
    });
  }

  // ---- conversation: its network log (newest on top) and its task cards ----
  const netRows = document.getElementById('network-rows');
  if (netRows && netRows.dataset.stream) {
    const max = Number(netRows.dataset.max || '2000');
    const capped = document.getElementById('network-capped');
    const netEmpty = document.getElementById('network-empty');
    const convTasks = document.getElementById('conversation-tasks');
    connect(netRows.dataset.stream + '?after=' + Number(netRows.dataset.after || '0'), {
      network: function (d) {
        if (netRows.querySelector('[data-net-id="' + Number(d.id) + '"]')) return;
        if (netEmpty) netEmpty.hidden = true;
        netRows.prepend(fragment(d.html));
        netRows.dataset.after = String(d.id);
        while (netRows.rows.length > max) {
          netRows.lastElementChild.remove();
          if (capped) capped.hidden = false;
        }
      },
      // The server skipped rows older than the newest few thousand (the page was far behind).
      skipped: function () { if (capped) capped.hidden = false; },
      task: function (d) {
        if (!convTasks) return;
        const existing = convTasks.querySelector('[data-task-id="' + Number(d.id) + '"]');
        if (existing) existing.replaceWith(fragment(d.html));
        else convTasks.append(fragment(d.html));
      },
    });
  }

  // ---- repos: states change without events; refresh while visible ----
  if (body.dataset.page === 'repos') {
    setInterval(function () { if (document.visibilityState === 'visible') location.reload(); }, 15000);
  }
})();
