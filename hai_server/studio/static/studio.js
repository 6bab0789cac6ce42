// HAI Studio: the live parts. Logs through Server-Sent Events, task state by polling.
"use strict";
(function () {
  // times are epoch seconds in data-at: show them in the reader's local time
  for (const el of document.querySelectorAll("time[data-at]")) {
    const d = new Date(parseFloat(el.dataset.at) * 1000);
    el.textContent = d.toLocaleString();
    el.dateTime = d.toISOString();
  }
  const task = document.getElementById("task");
  if (!task) return;
  const id = task.dataset.id;
  const pane = document.getElementById("log");
  const rank = document.getElementById("rank");
  const attempt = document.getElementById("attempt");
  const follow = document.getElementById("follow");
  const search = document.getElementById("search");
  const status = document.getElementById("logstatus");
  const MAX_CHARS = 2000000;
  // terminal escapes and characters that hide or reorder text are shown, never obeyed
  const ANSI = /\x1b\[[0-9;?]*[ -\/]*[@-~]/g;
  const HIDDEN = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;
  let text = "";
  let streamStatus = "";
  let source = null;
  let retry = null;

  function say(s) {
    streamStatus = s;
    if (!search.value) status.textContent = s;
  }
  function clean(s) {
    return s.replace(ANSI, "").replace(HIDDEN, (c) => "<U+" + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0") + ">");
  }
  function render() {
    const q = search.value;
    pane.textContent = "";
    if (!q) {
      pane.textContent = text;
      status.textContent = streamStatus;
    } else {
      // only the lines that contain the search, the match marked (built as text nodes)
      const lines = text.split("\n").filter((l) => l.includes(q));
      for (const line of lines) {
        const parts = line.split(q);
        parts.forEach((p, i) => {
          pane.appendChild(document.createTextNode(p));
          if (i < parts.length - 1) {
            const m = document.createElement("mark");
            m.textContent = q;
            pane.appendChild(m);
          }
        });
        pane.appendChild(document.createTextNode("\n"));
      }
      status.textContent = lines.length + " matching line(s)";
    }
    if (follow.checked) pane.scrollTop = pane.scrollHeight;
  }
  function append(s) {
    text += clean(s);
    if (text.length > MAX_CHARS) text = text.slice(text.length - MAX_CHARS);
    if (search.value) { render(); return; }
    pane.appendChild(document.createTextNode(clean(s)));
    if (follow.checked) pane.scrollTop = pane.scrollHeight;
  }
  function open() {
    if (source) source.close();
    clearTimeout(retry);
    text = "";
    pane.textContent = "";
    const params = new URLSearchParams({ rank: rank.value });
    if (attempt.value) params.set("attempt", attempt.value);
    say("following…");
    source = new EventSource(`/tasks/${id}/logs/stream?${params}`);
    source.onmessage = (ev) => append(JSON.parse(ev.data).text);
    source.addEventListener("end", (ev) => {
      const info = JSON.parse(ev.data || "{}");
      say(info.error ? info.error : "end of log");
      source.close();
      source = null;
    });
    source.onerror = () => {
      // the server went away or the session ended: start again in a moment
      if (source) source.close();
      source = null;
      say("connection lost; retrying…");
      retry = setTimeout(open, 2000);
    };
  }
  document.getElementById("logctl").addEventListener("submit", (ev) => ev.preventDefault());
  rank.addEventListener("change", open);
  attempt.addEventListener("change", open);
  search.addEventListener("input", render);
  follow.addEventListener("change", () => { if (follow.checked) pane.scrollTop = pane.scrollHeight; });
  open();

  // the state, the waiting note and the actions follow the task
  const stateEl = document.getElementById("state");
  const waitingEl = document.getElementById("waiting");
  async function poll() {
    try {
      const r = await fetch(`/tasks/${id}/live`, { headers: { Accept: "application/json" } });
      if (r.status === 401) { location.reload(); return; }
      if (r.ok) {
        const t = await r.json();
        stateEl.textContent = t.state;
        stateEl.className = "state st-" + t.state;
        task.dataset.state = t.state;
        waitingEl.textContent = t.waiting;
        for (const a of document.querySelectorAll("#actions [data-action]")) {
          a.hidden = !t.actions.includes(a.dataset.action);
        }
        const known = new Set(Array.from(attempt.options, (o) => o.value));
        let added = false;
        for (const n of t.attempts) {
          if (known.has(String(n))) continue;
          const o = document.createElement("option");
          o.value = String(n); o.textContent = String(n);
          attempt.appendChild(o);
          added = true;
        }
        if (added && !source && !attempt.value) open();  // a new attempt after an ended stream
      }
    } catch (e) { /* offline for a moment: try again */ }
    setTimeout(poll, 1500);
  }
  setTimeout(poll, 1500);
})();
