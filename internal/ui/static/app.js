// raftvip status page: polls /ui/status.json and renders it. Every value is
// written with textContent, never as HTML, since member names and check
// faults come from the cluster's state.
"use strict";

const pollMs = 500;
const tokenKey = "raftvip-ui-token";
const $ = (id) => document.getElementById(id);
let lastOK = 0;
let waiting = false;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function ago(ms) {
  if (ms < 0) return "";
  if (ms < 1000) return ms + " ms";
  const s = ms / 1000;
  if (s < 90) return s.toFixed(1) + " s";
  const m = s / 60;
  if (m < 90) return Math.round(m) + " min";
  const h = m / 60;
  if (h < 48) return Math.round(h) + " h";
  return Math.round(h / 24) + " days";
}

function when(at, now) {
  if (!at) return "unknown";
  const d = new Date(at);
  return d.toLocaleString(undefined, { hour12: false }) + " (" + ago(now - at) + " ago)";
}

function headers() {
  const t = sessionStorage.getItem(tokenKey);
  return t ? { Authorization: "Bearer " + t } : {};
}

async function poll() {
  // While the token form is up, ask nothing until a token is given.
  if (waiting || (!$("login").hidden && sessionStorage.getItem(tokenKey) === null)) return;
  waiting = true;
  try {
    const r = await fetch("/ui/status.json", { headers: headers(), cache: "no-store" });
    if (r.status === 401) {
      askToken(sessionStorage.getItem(tokenKey) !== null);
      return;
    }
    if (!r.ok) throw new Error("HTTP " + r.status);
    render(await r.json());
    lastOK = Date.now();
  } catch (e) {
    unreachable(e);
  } finally {
    waiting = false;
  }
}

function askToken(refused) {
  sessionStorage.removeItem(tokenKey);
  $("status").hidden = true;
  $("login").hidden = false;
  $("login-error").hidden = !refused;
  $("updated").textContent = "waiting for the token";
}

function unreachable(e) {
  const p = $("unreachable");
  $("status").hidden = false;
  p.hidden = false;
  p.textContent = "This page cannot reach the node serving it (" + e.message + ")" +
    (lastOK ? "; what it shows is from " + new Date(lastOK).toLocaleTimeString(undefined, { hour12: false }) + "." : ".");
  $("banner").className = "banner lost";
}

function render(v) {
  $("login").hidden = true;
  $("status").hidden = false;
  $("node").textContent = "· page served by " + v.node + " (" + v.role + ")";
  $("updated").textContent = "updated " + new Date(v.now).toLocaleTimeString(undefined, { hour12: false });
  $("unreachable").hidden = true;

  const banner = $("banner");
  banner.className = v.contact === "ok" ? "banner" : "banner lost";
  banner.dataset.contact = v.contact;
  $("contact").textContent = v.contact_text;

  const h = $("holder");
  h.textContent = v.holder_text;
  h.className = v.holder ? "holder" : "holder none";
  h.dataset.holder = v.holder || "";
  const dg = $("degraded");
  dg.hidden = !v.degraded;
  dg.textContent = v.degraded ? "DEGRADED: " + v.degraded : "";
  $("term").textContent = v.term;
  $("leader").textContent = v.leader || "none";

  const vips = $("vips");
  vips.replaceChildren(...v.vips.map((p) => el("li", p)));

  const rows = v.members.map((m) => {
    const tr = el("tr");
    tr.dataset.id = m.id;
    tr.dataset.health = m.health;
    tr.dataset.contact = m.contact || "";
    if (m.role === "leader") tr.className = "leader";
    tr.append(el("td", m.id), el("td", m.role));
    const health = el("td", m.health, m.health);
    if (m.fault) health.append(el("span", m.fault, "fault"));
    tr.append(health, el("td", m.priority || ""));
    tr.append(el("td", contactText(m, v), m.contact === "unreachable" ? "unreachable" : ""));
    tr.append(el("td", m.raft_addr, "addr"), el("td", m.holds ? "holds the VIPs" : "", m.holds ? "holds" : ""));
    return tr;
  });
  $("members").tBodies[0].replaceChildren(...rows);

  const hist = v.history.map((c) => {
    const tr = el("tr");
    tr.dataset.term = c.term;
    tr.dataset.to = c.to;
    tr.dataset.reason = c.reason;
    tr.append(el("td", when(c.at, v.now)), el("td", (c.from || "—") + " → " + c.to), el("td", c.why),
      el("td", c.takeover_ms ? c.takeover_ms + " ms" : "—"), el("td", c.term));
    return tr;
  });
  $("history").tBodies[0].replaceChildren(...hist);
  $("no-history").hidden = hist.length > 0;
}

function contactText(m, v) {
  switch (m.contact) {
    case "self": return v.role === "leader" ? "this node" : "this node" + (v.last_contact_ms >= 0 ? " (leader heard " + ago(v.last_contact_ms) + " ago)" : "");
    case "leader": return v.last_contact_ms >= 0 ? "heard " + ago(v.last_contact_ms) + " ago" : "";
    case "unreachable": return "unreachable" + (m.last_contact_ms ? " (last heard " + ago(m.last_contact_ms) + " ago)" : "");
    case "ok": return "reachable";
  }
  return "";
}

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem(tokenKey, $("token").value.trim());
  $("token").value = "";
  poll();
});

poll();
setInterval(poll, pollMs);
