// lua/luaha/web/app.js: the web UI's one script: live Status cells, <dialog> confirmations, dependent fields, presets.
// SPDX-License-Identifier: GPL-2.0-or-later
// Every page works without it (the server renders all, and asks on a page what a dialog asks here); no framework,
// no build step, no inline script (CSP). The Status pages poll /status.json and update in place the summary rows
// (tr#vs-V) or one virtual's rows (tr#rs-V-S): focus, scroll and a half-typed weight stay; changes are announced
// in the one aria-live region. body.dataset.live = "1" after the first good poll.
(function () {
  "use strict";
  var body = document.body, byId = document.getElementById.bind(document);
  var CHOICES = [1, 2, 5, 10, 0];          // seconds between polls; 0: off
  var timer = null, lastOk = null, every = 2;
  var own = document.querySelector("table.servers[id^='virtual-']"), source = own ?    // one virtual's servers, or counts
    "/status.json?virtual=" + encodeURIComponent(own.id.slice(8)) : byId("virtuals") ? "/status.json?summary=1" : "/status.json";

  function ago(s) {
    return s === null || s === undefined ? "never" : s < 1 ? Math.floor(s * 1000) + " ms ago" : s < 120 ?
      Math.round(s) + " s ago" : s < 7200 ? Math.round(s / 60) + " min ago" : (s / 3600).toFixed(1) + " h ago";
  }
  function set(el, text) { if (el && el.textContent !== String(text)) { el.textContent = String(text); } }
  function cell(row, cls) { return row.querySelector("." + cls); }
  function cells(row, m) { Object.keys(m).forEach(function (k) { set(cell(row, k), m[k]); }); }
  function healthOf(rs) { return rs.disabled ? "disabled" : (rs.health || "unchecked"); }
  function override(rs) {
    var w = rs.weight_override;
    return rs.disabled ? "disabled until next reload" : w === undefined || w === null ? "" :
      (w === 0 ? "drained, " : "") + "weight " + w + " until next reload";
  }
  function lastCheck(rs, now) {
    var l = rs.last_check;
    if (!l || l.ok === undefined || l.ok === null) { return "none yet"; }
    return (l.ok ? "ok" : "failed: " + (l.reason || "?")) + " (" + (l.seconds || 0).toFixed(3) + " s, " + ago(l.at ? now - l.at : null) + ")";
  }
  function stale(text) {     // the banner when a poll fails; hidden after a good one
    var b = byId("stale") || byId("banners").appendChild(document.createElement("p"));
    b.id = "stale"; b.className = "banner failed"; b.setAttribute("role", "status"); b.hidden = !text; set(b, text || "");
  }

  // A virtual's summary row, counted as webstatus.lua's S.summary counts.
  function summary(row, s, said) {
    var g = s.summary, n = g ? g.total : s.servers.length, c = g ? { up: g["in"], out: g.out, other: g.other,   // ?summary=1
      serving: g.serving, ac: g.active_conns, ic: g.inactive_conns, known: g.known } : { up: 0, out: 0, other: 0, serving: 0, ac: 0, ic: 0, known: false };
    s.servers.forEach(function (rs) {
      var h = healthOf(rs), k = rs.kernel;
      if (h === "in") { c.up++; } else if (h === "out") { c.out++; } else { c.other++; }
      if (k) { c.known = true; c.serving += k.weight > 0 ? 1 : 0; c.ac += k.active_conns || 0; c.ic += k.inactive_conns || 0; }
    });
    var st = !s.active ? "inactive" : n === 0 ? "empty" : c.up === 0 ? "down" : c.up < n ? "degraded" : "ok";
    if (row.dataset.state !== st) {
      said.push(s.name + " is " + st + (c.out ? ": " + c.out + " out" : ""));
      row.dataset.state = st;
    }
    cell(row, "vstate").className = "vstate " + st;
    set(row.querySelector(".vstate .word"), st);
    cells(row, { "n-in": c.up, "n-out": c.out, "n-other": c.other, serving: c.known ? c.serving + " of " + n : "-",
      "active-conns": c.known ? c.ac : "-", "inactive-conns": c.known ? c.ic : "-",
      announced: s.anycast ? (s.anycast.announced ? "announced" : "withdrawn") : "-" });
  }

  function server(row, s, rs, now, said) {
    var h = healthOf(rs), k = rs.kernel, l = rs.last_check;
    if (row.dataset.health !== h) {
      said.push(s.name + "/" + rs.name + " is " + h + (h === "out" && l && l.reason ? ": " + l.reason : ""));
      row.dataset.health = h;
    }
    var hc = cell(row, "health");
    hc.className = "health " + h;
    set(hc.querySelector(".word"), h);
    set(hc.querySelector(".since"), "since " + (rs.health_since ? ago(now - rs.health_since) : "start"));
    cells(row, { weight: rs.configured_weight, kweight: k ? k.weight : "-", override: override(rs),
      "active-conns": k ? k.active_conns : "-", "inactive-conns": k ? k.inactive_conns : "-", "last-check": lastCheck(rs, now) });
  }

  function update(doc) {
    var said = [], peer = doc.peer || {}, hb = doc.heartbeats || {}, st = byId("state"), heard = byId("peer-heard");
    set(byId("role"), doc.role);
    if (st) { set(st, doc.state); st.className = "state " + doc.state; }
    set(byId("peer-state"), peer.state || "unknown");
    if (heard) {
      set(heard, peer.heard !== undefined ? ago(peer.heard) : "never");
      heard.className = (doc.deadtime && peer.heard > doc.deadtime) ? "late" : "";
    }
    var refused = Object.keys(hb.refused || {}).sort().map(function (k) { return k + " " + hb.refused[k]; });
    set(byId("heartbeats"), "sent " + (hb.sent || 0) + ", received " + (hb.received || 0) +
      ", refused " + (refused.length ? refused.join(", ") : "none"));
    set(byId("vips"), (doc.vips || []).length ? doc.vips.join(", ") : "none held");
    set(byId("serial"), doc.serial_no);
    (doc.services || []).forEach(function (s) {
      var vrow = byId("vs-" + s.name);
      if (vrow) { summary(vrow, s, said); }
      if (!byId("virtual-" + s.name)) { return; }     // its rows are on its own page
      s.servers.forEach(function (rs) {
        var row = byId("rs-" + s.name + "-" + rs.name);
        if (row) { server(row, s, rs, doc.time, said); }
      });
    });
    if (said.length) { set(byId("live"), said.join("; ")); }
  }

  function poll() {
    fetch(source, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (doc) { update(doc); lastOk = Date.now(); stale(null); body.dataset.live = "1"; })
      .catch(function (e) { stale("Stale: the last update failed (" + e.message + ")."); }).then(schedule);
  }
  function schedule() { clearTimeout(timer); timer = every > 0 ? setTimeout(poll, every * 1000) : null; }

  function pollControl() {
    var saved = window.localStorage && localStorage.getItem("luaha-poll");
    if (saved !== null && CHOICES.indexOf(Number(saved)) >= 0) { every = Number(saved); }
    var p = document.querySelector("p.updated"); if (!p) { return; }
    var label = document.createElement("label"), sel = document.createElement("select");
    label.htmlFor = sel.id = "poll-every"; label.textContent = " Refresh every ";
    CHOICES.forEach(function (c) { sel.appendChild(new Option(c ? c + " s" : "off", String(c), false, c === every)); });
    sel.addEventListener("change", function () {
      every = Number(sel.value);
      try { localStorage.setItem("luaha-poll", String(every)); } catch (e) { /* private mode: not kept */ }
      schedule();
    });
    p.append(label, sel);
  }

  // What a button asks first: its data-confirm, or (disable, drain) whether its row is the last one in.
  function question(b) {
    var row = b.closest("tr[data-health]");
    if (b.dataset.confirm || !row || (b.value !== "disable" && b.value !== "drain")) { return b.dataset.confirm; }
    var up = Array.prototype.filter.call(row.parentNode.children, function (r) {
      return r.dataset.health === "in" && !/^drained/.test(cell(r, "override").textContent);
    });
    if (up.length !== 1 || up[0] !== row) { return null; }
    return row.querySelector("th").textContent + " is the last healthy real server of " +
      b.form.elements.virtual.value + ": " + b.value + " it anyway?";
  }
  // Asked in a <dialog>; yes posts the form with the button's action and confirm=1, as the server's page would.
  function dialogs() {
    if (typeof HTMLDialogElement !== "function") { return; }
    var dlg = document.createElement("dialog"), text = document.createElement("p"), asked = null;
    var yes = document.createElement("button"), no = document.createElement("button");
    dlg.id = "confirm"; text.id = "confirm-text"; dlg.setAttribute("aria-labelledby", "confirm-text");
    yes.type = no.type = "button"; yes.className = "yes"; no.textContent = "Cancel";
    dlg.append(text, yes, " ", no);
    body.appendChild(dlg);
    no.addEventListener("click", function () { dlg.close(); });
    yes.addEventListener("click", function () {
      [["action", asked.value], ["confirm", "1"]].forEach(function (kv) {
        var i = asked.form.appendChild(document.createElement("input"));
        i.type = "hidden"; i.name = kv[0]; i.value = kv[1];
      });
      dlg.close();
      asked.form.requestSubmit();      // a submit event: the unsaved-edit warning knows the form is sent
    });
    document.addEventListener("click", function (e) {
      var b = e.target.closest && e.target.closest("button[name=action]"), q = b && b.form && question(b);
      if (!q) { return; }
      e.preventDefault();
      asked = b;
      text.textContent = q;
      yes.textContent = b.textContent;
      dlg.showModal();
    });
  }

  // Fields that only mean something with another's value: shown or hidden with it; presets fill two fields.
  function dependent() {
    var net = byId("f-network"), nat = byId("f-nat_router"), pers = byId("f-persistent"), pmask = byId("f-pmask");
    function show(input, on) { var f = input && input.closest(".field"); if (f) { f.hidden = !on; } }
    function apply() {
      if (net && nat) { show(nat, net.value === "nat"); show(byId("f-nat_nmask"), net.value === "nat"); }
      if (pers && pmask) { show(pmask, pers.value !== "" && pers.value !== "0"); }
    }
    [net, pers].forEach(function (el) { if (el) { el.addEventListener("input", apply); el.addEventListener("change", apply); } });
    apply();
    document.querySelectorAll("button[name=preset]").forEach(function (b) {
      b.addEventListener("click", function (e) {
        var v = b.value.split(" ");
        e.preventDefault();
        byId("f-keepalive").value = v[0]; byId("f-deadtime").value = v[1];
        b.form.dispatchEvent(new Event("input"));
      });
    });
  }

  // A form edited and not sent: leaving the page asks first.
  function dirty() {
    var changed = false;
    document.querySelectorAll("form.edit").forEach(function (f) {
      f.addEventListener("input", function () { changed = true; });
      f.addEventListener("submit", function () { changed = false; });
    });
    window.addEventListener("beforeunload", function (e) { if (changed) { e.preventDefault(); e.returnValue = ""; } });
  }

  dependent();
  dirty();
  dialogs();
  if (body.dataset.page === "status") {
    pollControl();
    setInterval(function () { if (lastOk !== null) { set(byId("updated"), ago((Date.now() - lastOk) / 1000)); } }, 1000);
    poll();
  }
}());
