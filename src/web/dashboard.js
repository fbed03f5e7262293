// cronq's dashboard: the little a page needs beyond HTML. Times in the browser's zone,
// live parts refreshed in place, and a run's output followed as it is written.
"use strict";

// Every <time datetime> in the browser's zone; its title keeps the UTC instant.
function localTimes(root) {
  for (const el of root.querySelectorAll("time[datetime]")) {
    const at = new Date(el.getAttribute("datetime"));
    if (isNaN(at)) continue;
    const text = at.toLocaleString(undefined, {
      year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
    });
    if (el.textContent !== text) el.textContent = text;
  }
}

// Parts marked data-live are fetched again every few seconds and patched in place:
// only the text and attributes that changed are touched, rows are matched by their key
// (id, data-job, data-run), so the node a person reads, their selection, the focused
// control and the scroll position all stay. A page that is slow to refresh (10,000
// jobs) is refreshed less often: the pause grows with the time a refresh took.
const REFRESH_MS = 3000;
let refreshes = 0;

function keyOf(node) {
  if (node.nodeType !== 1) return "";
  return node.id || node.getAttribute("data-job") || node.getAttribute("data-run") ||
    node.getAttribute("data-problem") || "";
}

function patchAttributes(el, fresh) {
  for (const { name } of [...el.attributes]) {
    if (!fresh.hasAttribute(name)) el.removeAttribute(name);
  }
  for (const { name, value } of fresh.attributes) {
    if (el.getAttribute(name) !== value) el.setAttribute(name, value);
  }
}

function patch(node, fresh) {
  if (node.nodeType !== 1) {
    if (node.nodeValue !== fresh.nodeValue) node.nodeValue = fresh.nodeValue;
    return;
  }
  // What a person is typing into or has chosen stays as they left it.
  if (node === document.activeElement && /^(INPUT|TEXTAREA|SELECT)$/.test(node.nodeName)) return;
  patchAttributes(node, fresh);
  patchChildren(node, fresh);
}

function patchChildren(el, fresh) {
  const keyed = new Map();
  for (const child of el.childNodes) {
    const key = keyOf(child);
    if (key) keyed.set(child.nodeName + " " + key, child);
  }
  let at = el.firstChild;
  for (const want of [...fresh.childNodes]) {
    const key = keyOf(want);
    let match = null;
    if (key) match = keyed.get(want.nodeName + " " + key) || null;
    else if (at && at.nodeName === want.nodeName && !keyOf(at)) match = at;
    if (!match) {
      el.insertBefore(document.importNode(want, true), at);
      continue;
    }
    if (match === at) at = at.nextSibling;
    else el.insertBefore(match, at);
    patch(match, want);
  }
  while (at) {
    const next = at.nextSibling;
    el.removeChild(at);
    at = next;
  }
}

// One refresh of the live parts; resolves to how long it took, in ms.
function refreshLive() {
  const started = performance.now();
  return fetch(location.href, { headers: { "X-Requested-With": "refresh" }, credentials: "same-origin" })
    .then((r) => (r.ok ? r.text() : null))
    .then((html) => {
      if (!html) return 0;
      const fresh = new DOMParser().parseFromString(html, "text/html");
      localTimes(fresh);
      for (const el of document.querySelectorAll("[data-live][id]")) {
        const next = fresh.getElementById(el.id);
        if (next) patchChildren(el, next);
      }
      filterRows();
      document.documentElement.dataset.refreshes = String(++refreshes);
      return performance.now() - started;
    })
    .catch(() => 0);
}

function scheduleRefresh(ms) {
  setTimeout(() => {
    if (!document.querySelector("[data-live]") || document.hidden) return scheduleRefresh(REFRESH_MS);
    refreshLive().then((took) => scheduleRefresh(Math.max(REFRESH_MS, 10 * took)));
  }, ms);
}

// The search box narrows the rows as one types, before the form is sent: a row stays
// when its data-job holds the text, in any case.
function filterRows() {
  for (const input of document.querySelectorAll("input[data-filter]")) {
    const table = document.getElementById(input.dataset.filter);
    if (!table) continue;
    const needle = input.value.trim().toLowerCase();
    for (const row of table.querySelectorAll("tr[data-job]")) {
      const hide = !!needle && !row.dataset.job.toLowerCase().includes(needle);
      if (row.hidden !== hide) row.hidden = hide;
    }
  }
}

// ANSI colours in live output, as the server draws them: SGR to classes, other
// sequences dropped. Text goes in through textContent, so nothing is ever markup.
const COLOURS = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"];
function ansiPieces(text, style) {
  const out = [];
  let current = "";
  const push = () => { if (current) { out.push([Object.assign({}, style), current]); current = ""; } };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\x1b") {
      if (text[i + 1] === "[") {
        let j = i + 2, params = "";
        while (j < text.length && !(text[j] >= "@" && text[j] <= "~")) params += text[j++];
        if (text[j] === "m") {
          push();
          const codes = params.split(";").map((p) => parseInt(p || "0", 10));
          for (let k = 0; k < codes.length; k++) {
            const n = codes[k];
            if (n === 0) { style.colour = null; style.bold = false; }
            else if (n === 1) style.bold = true;
            else if (n === 22) style.bold = false;
            else if (n >= 30 && n <= 37) style.colour = n - 30;
            else if (n >= 90 && n <= 97) style.colour = n - 90;
            else if (n === 39) style.colour = null;
            else if (n === 38 || n === 48) k += codes[k + 1] === 5 ? 2 : codes[k + 1] === 2 ? 4 : 0;
          }
        }
        i = j;
      } else if (text[i + 1] === "]") {
        let j = i + 2;
        while (j < text.length && text[j] !== "\x07" && text[j] !== "\x1b") j++;
        i = text[j] === "\x1b" ? j + 1 : j;
      } else {
        i++;
      }
    } else if (c === "\n" || c === "\t" || c >= " " && c !== "\x7f") {
      current += c;
    }
  }
  push();
  return out;
}

function followOutput() {
  const pre = document.getElementById("output");
  if (!pre || pre.dataset.follow !== "yes" || !window.EventSource) return;
  const styles = { stdout: { colour: null, bold: false }, stderr: { colour: null, bold: false } };
  const url = "/runs/" + encodeURIComponent(pre.dataset.run) + "/events?from=" + pre.dataset.from;
  // The browser reconnects by itself after a drop, with Last-Event-ID: the bytes after
  // the last ones it got, none lost and none twice.
  const source = new EventSource(url);
  source.addEventListener("output", (e) => {
    const { stream, text } = JSON.parse(e.data);
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    for (const [style, piece] of ansiPieces(text, styles[stream] || styles.stdout)) {
      const span = document.createElement("span");
      span.className = "out " + stream + (style.colour !== null ? " fg-" + COLOURS[style.colour] : "") + (style.bold ? " bold" : "");
      span.textContent = piece;
      pre.appendChild(span);
    }
    pre.dataset.from = e.lastEventId;
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  });
  source.addEventListener("end", () => {
    source.close();
    pre.dataset.follow = "no";
    refreshLive();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  followOutput();
  for (const input of document.querySelectorAll("input[data-filter]")) input.addEventListener("input", filterRows);
  scheduleRefresh(REFRESH_MS);
});
