// proxyhub dashboard: plain JavaScript over the hub's own API.
// Every value from the API reaches the page through textContent or a
// form field's value, never as markup. The admin token lives in this
// tab's sessionStorage and is sent as an Authorization header only.
"use strict";

const TOKEN_KEY = "proxyhub.jwt";
const TENANT_KEY = "proxyhub.tenant";
const DAY = 24 * 3600 * 1000;

const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  claims: null,
  tenant: "",
  proxies: new Map(), // name -> proxy (API fields plus changes24h, lastChange)
  stream: null, // AbortController of the live event stream
  auditCursor: "",
};

// --- the API -----------------------------------------------------------

class APIError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || "HTTP " + status);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
  if (state.token) headers.Authorization = "Bearer " + state.token;
  let body = options.body;
  if (body !== undefined && typeof body !== "string") {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(body);
  }
  const res = await fetch(path, { method: options.method || "GET", headers, body, signal: options.signal, cache: "no-store" });
  if (res.status === 401 && state.token) {
    signOut("Your session ended: sign in again.");
    throw new APIError(401, { title: "Unauthorized" });
  }
  if (!res.ok) {
    let problem = null;
    try { problem = await res.json(); } catch (_) { /* not JSON */ }
    throw new APIError(res.status, problem);
  }
  if (options.raw) return res;
  if (res.status === 204) return null;
  return res.json();
}

const tenantPath = (rest) => "/v1/tenants/" + encodeURIComponent(state.tenant) + rest;

// --- signing in ----------------------------------------------------------

function decodeClaims(jwt) {
  const parts = jwt.split(".");
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)));
  } catch (_) {
    return null;
  }
}

function canAdminister() {
  const role = state.claims && state.claims.role;
  return role === "platform" || role === "owner" || role === "admin";
}

async function useToken(jwt) {
  const claims = decodeClaims(jwt);
  if (!claims || !claims.role) throw new Error("That is not an admin JWT.");
  state.token = jwt;
  state.claims = claims;
  sessionStorage.setItem(TOKEN_KEY, jwt);
  if (claims.role === "platform") {
    const list = await api("/v1/tenants");
    const select = $("tenant-select");
    select.replaceChildren();
    for (const t of list.tenants) {
      const opt = document.createElement("option");
      opt.value = t.id;
      opt.textContent = t.name ? t.id + " (" + t.name + ")" : t.id;
      select.append(opt);
    }
    const saved = sessionStorage.getItem(TENANT_KEY);
    state.tenant = list.tenants.some((t) => t.id === saved) ? saved : (list.tenants[0] ? list.tenants[0].id : "");
    select.value = state.tenant;
    $("tenant-picker").hidden = false;
  } else {
    state.tenant = claims.tenant || "";
    $("tenant-picker").hidden = true;
  }
  $("who").textContent = (claims.sub || "admin") + " · " + claims.role + (claims.tenant ? " of " + claims.tenant : "");
  $("nav").hidden = false;
  for (const el of document.querySelectorAll(".admin-only")) el.hidden = !canAdminister();
  if (!location.hash || location.hash === "#/signin") location.hash = "#/fleet";
  else route();
}

function signOut(message) {
  stopStream();
  state.token = "";
  state.claims = null;
  state.tenant = "";
  state.proxies.clear();
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(TENANT_KEY);
  $("nav").hidden = true;
  $("fleet-table").tBodies[0].replaceChildren();
  showError(message || "");
  location.hash = "#/signin";
  route();
}

// --- views -----------------------------------------------------------------

function show(view) {
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== "view-" + view;
}

function showError(msg) {
  $("error").textContent = msg || "";
}

async function route() {
  showError("");
  if (!state.token) {
    show("signin");
    return;
  }
  const [, view, arg] = (location.hash || "#/fleet").split("/");
  try {
    switch (view) {
      case "proxy":
        show("proxy");
        await showProxy(decodeURIComponent(arg || ""));
        break;
      case "audit":
        show("audit");
        await loadAudit(true);
        break;
      case "admin":
        show("admin");
        await loadAdmin();
        break;
      default:
        show("fleet");
        await loadFleet();
    }
  } catch (e) {
    showError(e.message);
  }
}

// --- fleet -----------------------------------------------------------------

function ago(iso) {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 90) return s + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  if (s < 2 * 86400) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " d ago";
}

// statusOf is the proxy's status now: offline as soon as its deadline has
// passed, without waiting for the hub's event.
function statusOf(p) {
  if (p.paused) return "paused";
  if (p.status === "offline") return "offline";
  if (p.deadline && Date.parse(p.deadline) <= Date.now()) return "offline";
  return "online";
}

async function loadFleet() {
  if (!state.tenant) {
    showError("No tenant to show.");
    return;
  }
  const now = Date.now();
  // The history is read for the last 30 days only: its cost stays bounded
  // however old the fleet is.
  const since = (ms) => encodeURIComponent(new Date(now - ms).toISOString());
  const [list, day, month] = await Promise.all([
    api(tenantPath("/proxies")),
    api(tenantPath("/stats?since=" + since(DAY))),
    api(tenantPath("/stats?since=" + since(30 * DAY))),
  ]);
  const changes24h = new Map(day.proxies.map((s) => [s.proxy, s.changes]));
  const lastChange = new Map(month.proxies.map((s) => [s.proxy, s.last_change]));
  state.proxies.clear();
  for (const p of list.proxies) {
    p.changes24h = changes24h.get(p.name) || 0;
    p.lastChange = lastChange.get(p.name) || "";
    state.proxies.set(p.name, p);
  }
  renderFleet();
  if (!state.stream) startStream();
}

function renderFleet() {
  const nameQ = $("filter-name").value.trim().toLowerCase();
  const statusQ = $("filter-status").value;
  const ipQ = $("filter-ip").value.trim();
  const all = [...state.proxies.values()];
  const rank = { offline: 0, paused: 1, online: 2 };
  all.sort((a, b) => rank[statusOf(a)] - rank[statusOf(b)] || a.name.localeCompare(b.name));
  const counts = { online: 0, offline: 0, paused: 0 };
  const rows = [];
  for (const p of all) {
    const st = statusOf(p);
    counts[st]++;
    if (nameQ && !p.name.toLowerCase().includes(nameQ)) continue;
    if (statusQ && st !== statusQ) continue;
    if (ipQ && !(p.remote_ip || "").includes(ipQ)) continue;
    const tr = document.createElement("tr");
    tr.className = st;
    tr.dataset.proxy = p.name;
    const badge = document.createElement("span");
    badge.className = "status status-" + st;
    badge.textContent = st;
    const link = document.createElement("a");
    link.href = "#/proxy/" + encodeURIComponent(p.name);
    link.textContent = p.name;
    tr.append(cell(badge), cell(link), cell(p.remote_ip || ""), cell(ago(p.last_seen), p.last_seen),
      cell(p.lastChange ? ago(p.lastChange) : "none in 30 d", p.lastChange), cell(String(p.changes24h)));
    rows.push(tr);
  }
  $("fleet-table").tBodies[0].replaceChildren(...rows);
  $("counts").textContent = all.length + (all.length === 1 ? " proxy: " : " proxies: ") + counts.online + " online, " + counts.offline + " offline, " + counts.paused + " paused";
}

function cell(content, title) {
  const td = document.createElement("td");
  if (typeof content === "string") td.textContent = content;
  else td.append(content);
  if (title) td.title = title;
  return td;
}

// --- live updates: the API's SSE stream, read with fetch so the token
// travels in the Authorization header, not in the URL.

function stopStream() {
  if (state.stream) state.stream.abort();
  state.stream = null;
}

async function startStream() {
  stopStream();
  const ctl = new AbortController();
  state.stream = ctl;
  const tenant = state.tenant;
  let lastID = "";
  while (!ctl.signal.aborted && state.tenant === tenant) {
    try {
      const headers = { Accept: "text/event-stream" };
      if (lastID) headers["Last-Event-ID"] = lastID;
      const res = await api(tenantPath("/events/stream"), { raw: true, signal: ctl.signal, headers });
      $("live-state").textContent = "Live: updates arrive as they happen.";
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let end;
        while ((end = buf.indexOf("\n\n")) >= 0) {
          const msg = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let data = "";
          for (const line of msg.split("\n")) {
            if (line.startsWith("id:")) lastID = line.slice(3).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
          }
          if (data) applyEvent(JSON.parse(data));
        }
      }
    } catch (e) {
      if (ctl.signal.aborted || e.status === 401) break;
    }
    $("live-state").textContent = "Reconnecting to live updates…";
    await new Promise((r) => setTimeout(r, 2000));
  }
  if (state.stream === ctl) state.stream = null;
}

function applyEvent(ev) {
  let p = state.proxies.get(ev.proxy);
  if (!p) {
    if (ev.type === "denied") return;
    p = { name: ev.proxy, status: "online", changes24h: 0, lastChange: "", created_at: ev.at };
    state.proxies.set(ev.proxy, p);
  }
  switch (ev.type) {
    case "registered":
    case "online":
      p.status = "online";
      p.remote_ip = ev.new_ip || p.remote_ip;
      p.last_seen = ev.at;
      p.deadline = "";
      break;
    case "ip_changed":
      p.status = "online";
      p.remote_ip = ev.new_ip;
      p.last_seen = ev.at;
      p.lastChange = ev.at;
      p.changes24h++;
      p.deadline = "";
      break;
    case "offline":
      p.status = "offline";
      break;
  }
  if (!$("view-fleet").hidden) renderFleet();
  if (!$("view-proxy").hidden && $("proxy-title").dataset.name === ev.proxy) showProxy(ev.proxy).catch((e) => showError(e.message));
}

// --- one proxy -------------------------------------------------------------

async function showProxy(name) {
  const q = "?proxy=" + encodeURIComponent(name) + "&limit=100";
  const [p, changes, events] = await Promise.all([
    api(tenantPath("/proxies/" + encodeURIComponent(name))),
    api(tenantPath("/proxies/" + encodeURIComponent(name) + "/ip-changes?limit=100")),
    api(tenantPath("/events" + q)),
  ]);
  const title = $("proxy-title");
  title.textContent = p.name;
  title.dataset.name = p.name;
  const facts = $("proxy-facts");
  facts.replaceChildren();
  const st = statusOf(p);
  for (const [k, v] of [["Status", st], ["IP", p.remote_ip], ["Last seen", ago(p.last_seen)], ["Offline after", p.offline_after + " s"], ["IP changes", String(p.ip_changes)], ["First seen", p.created_at]]) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v || "";
    if (k === "Status") dd.className = "status status-" + st;
    facts.append(dt, dd);
  }
  const pause = $("proxy-pause");
  pause.textContent = p.paused ? "Resume (end maintenance)" : "Pause (maintenance)";
  pause.onclick = async () => {
    try {
      await api(tenantPath("/proxies/" + encodeURIComponent(p.name)), { method: "PATCH", body: { paused: !p.paused } });
      await showProxy(p.name);
    } catch (e) { showError(e.message); }
  };
  $("cron-line").textContent = "* * * * * curl -fsS -m 10 --retry 3 -H \"Authorization: Bearer $(cat /etc/proxyhub/token)\" \"" +
    location.origin + "/proxy_server?name=" + encodeURIComponent(p.name) + "\" >/dev/null";
  $("proxy-timeline").replaceChildren(...changes.ip_changes.map((c) => item(c.at + ": " + c.old_ip + " → " + c.new_ip)));
  if (!changes.ip_changes.length) $("proxy-timeline").append(item("No IP change yet."));
  $("proxy-events").replaceChildren(...events.events.map((e) => item(e.at + ": " + e.type + (e.new_ip ? " (" + e.new_ip + ")" : ""))));
}

function item(text) {
  const li = document.createElement("li");
  li.textContent = text;
  return li;
}

// --- audit -------------------------------------------------------------------

function auditQuery() {
  const q = new URLSearchParams();
  const add = (k, v) => { if (v) q.set(k, v); };
  add("proxy", $("audit-proxy").value.trim());
  add("ip", $("audit-ip").value.trim());
  const t = (id) => ($(id).value ? new Date($(id).value).toISOString() : "");
  add("since", t("audit-since"));
  add("until", t("audit-until"));
  return q;
}

async function loadAudit(fresh) {
  const q = auditQuery();
  q.set("limit", "50");
  if (!fresh && state.auditCursor) q.set("cursor", state.auditCursor);
  const page = await api(tenantPath("/ip-changes?" + q));
  const rows = page.ip_changes.map((c) => {
    const tr = document.createElement("tr");
    tr.append(cell(c.at), cell(c.proxy), cell(c.old_ip), cell(c.new_ip), cell(c.token_id || ""));
    return tr;
  });
  const body = $("audit-table").tBodies[0];
  if (fresh) body.replaceChildren(...rows);
  else body.append(...rows);
  state.auditCursor = page.next_cursor || "";
  $("audit-more").hidden = !state.auditCursor;
}

async function downloadCSV() {
  const res = await api(tenantPath("/ip-changes.csv?" + auditQuery()), { raw: true, headers: { Accept: "text/csv" } });
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = state.tenant + "-ip-changes.csv";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// --- tokens and allowlist -------------------------------------------------

// settle resolves to the value, or to the error when the API refused
// (a role may read one section and not the other).
const settle = (p) => p.then((v) => v, (e) => { if (e.status === 403) return e; throw e; });

async function loadAdmin() {
  const [tokens, allow] = await Promise.all([settle(api(tenantPath("/tokens"))), settle(api(tenantPath("/allowlist")))]);
  const body = $("token-table").tBodies[0];
  if (tokens instanceof Error) {
    const tr = document.createElement("tr");
    const td = cell("Your role may not list tokens: " + tokens.message);
    td.colSpan = 6;
    tr.append(td);
    body.replaceChildren(tr);
  } else {
    body.replaceChildren(...tokens.tokens.map(tokenRow));
  }
  const field = $("allowlist");
  if (allow instanceof Error) {
    field.value = "";
    field.placeholder = "Your role may not read the allowlist.";
    field.readOnly = true;
    return;
  }
  field.value = allow.cidrs.join("\n");
  field.readOnly = !canAdminister();
  field.dataset.admin = JSON.stringify(allow.admin_cidrs || []);
}

function tokenRow(t) {
  const tr = document.createElement("tr");
  const actions = document.createElement("td");
  if (canAdminister() && !t.revoked_at) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = "Revoke";
    b.setAttribute("aria-label", "Revoke token " + t.id);
    b.onclick = async () => {
      if (!confirm("Revoke " + t.id + "? Proxies using it stop reporting.")) return;
      try {
        await api(tenantPath("/tokens/" + encodeURIComponent(t.id)), { method: "DELETE" });
        await loadAdmin();
      } catch (e) { showError(e.message); }
    };
    actions.append(b);
  }
  tr.append(cell(t.id), cell(t.label || ""), cell(t.created_at), cell(t.last_used_at ? ago(t.last_used_at) : "never"),
    cell(t.revoked_at ? "revoked" : "active"), actions);
  return tr;
}

// --- wiring ------------------------------------------------------------------

function on(id, event, fn) {
  $(id).addEventListener(event, async (e) => {
    if (event === "submit") e.preventDefault();
    showError("");
    try { await fn(e); } catch (err) { showError(err.message); }
  });
}

on("form-credentials", "submit", async () => {
  state.token = "";
  const res = await api("/v1/auth/token", { method: "POST", body: {
    grant_type: "client_credentials", client_id: $("client-id").value.trim(), client_secret: $("client-secret").value } });
  $("client-secret").value = "";
  await useToken(res.access_token);
});
on("form-jwt", "submit", async () => {
  const jwt = $("jwt").value.trim();
  $("jwt").value = "";
  await useToken(jwt);
});
on("signout", "click", () => signOut(""));
on("tenant-select", "change", async () => {
  state.tenant = $("tenant-select").value;
  sessionStorage.setItem(TENANT_KEY, state.tenant);
  stopStream();
  await route();
});
for (const id of ["filter-name", "filter-status", "filter-ip"]) on(id, "input", renderFleet);
on("fleet-filters", "submit", renderFleet);
on("audit-filters", "submit", () => loadAudit(true));
on("audit-more", "click", () => loadAudit(false));
on("audit-csv", "click", downloadCSV);
on("token-create", "submit", async () => {
  const res = await api(tenantPath("/tokens"), { method: "POST", body: { label: $("token-label").value.trim() } });
  $("token-label").value = "";
  const p = $("token-secret");
  p.textContent = "New token (shown once; put it in /etc/proxyhub/token on the proxy): " + res.token;
  p.hidden = false;
  await loadAdmin();
});
on("allowlist-form", "submit", async () => {
  const cidrs = $("allowlist").value.split(/[\s,]+/).filter(Boolean);
  await api(tenantPath("/allowlist"), { method: "PUT", body: { cidrs, admin_cidrs: JSON.parse($("allowlist").dataset.admin || "[]") } });
  await loadAdmin();
});
window.addEventListener("hashchange", route);

// Relative times tick; statuses turn offline when deadlines pass; the list
// is re-read every 30 s (plain heartbeats raise no event).
setInterval(() => { if (!$("view-fleet").hidden && state.token) renderFleet(); }, 1000);
setInterval(() => { if (!$("view-fleet").hidden && state.token) loadFleet().catch((e) => showError(e.message)); }, 30000);

if (state.token) useToken(state.token).catch((e) => signOut(e.message));
else route();
