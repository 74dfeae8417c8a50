// lua/luaha/web/app.js: the web UI's one script: live Status cells, dependent fields, unsaved-edit warning.
// SPDX-License-Identifier: GPL-2.0-or-later
// Every page works without it (the server renders everything). No framework, no build step, no
// inline script (the CSP allows only this file). On the Status page it polls /status.json and
// updates the cells in place, so focus, scroll and a half-typed weight stay; health changes are
// announced in the one aria-live region. body.dataset.live = "1" after the first good poll.
(function () {
  "use strict";
  var body = document.body;
  var CHOICES = [1, 2, 5, 10, 0];          // seconds between polls; 0: off
  var timer = null, lastOk = null, every = 2;

  function ago(s) {
    if (s === null || s === undefined) { return "never"; }
    if (s < 1) { return Math.floor(s * 1000) + " ms ago"; }
    if (s < 120) { return Math.round(s) + " s ago"; }
    if (s < 7200) { return Math.round(s / 60) + " min ago"; }
    return (s / 3600).toFixed(1) + " h ago";
  }
  function set(el, text) {
    if (el && el.textContent !== String(text)) { el.textContent = String(text); }
  }
  function cell(row, cls) { return row.querySelector("." + cls); }
  function healthOf(rs) { return rs.disabled ? "disabled" : (rs.health || "unchecked"); }
  function override(rs) {
    if (rs.disabled) { return "disabled until next reload"; }
    if (rs.weight_override !== undefined && rs.weight_override !== null) {
      return (rs.weight_override === 0 ? "drained, " : "") + "weight " + rs.weight_override + " until next reload";
    }
    return "";
  }
  function lastCheck(rs, now) {
    var l = rs.last_check;
    if (!l || l.ok === undefined || l.ok === null) { return "none yet"; }
    var what = l.ok ? "ok" : "failed: " + (l.reason || "?");
    return what + " (" + (l.seconds || 0).toFixed(3) + " s, " + ago(l.at ? now - l.at : null) + ")";
  }
  function announce(text) {
    var live = document.getElementById("live");
    if (live) { live.textContent = text; }
  }
  function banner(id, cls, text) {
    var b = document.getElementById(id), where = document.getElementById("banners");
    if (!text) { if (b) { b.parentNode.removeChild(b); } return; }
    if (!b && where) {
      b = document.createElement("p");
      b.id = id;
      b.className = "banner " + cls;
      b.setAttribute("role", "status");
      where.appendChild(b);
    }
    set(b, text);
  }

  function update(doc) {
    var now = doc.time, said = [];
    set(document.getElementById("role"), doc.role);
    var st = document.getElementById("state");
    if (st) { set(st, doc.state); st.className = "state " + doc.state; }
    var peer = doc.peer || {};
    set(document.getElementById("peer-state"), peer.state || "unknown");
    var heard = document.getElementById("peer-heard");
    if (heard) {
      set(heard, peer.heard !== undefined ? ago(peer.heard) : "never");
      heard.className = (doc.deadtime && peer.heard > doc.deadtime) ? "late" : "";
    }
    var hb = doc.heartbeats || {};
    var refused = Object.keys(hb.refused || {}).sort().map(function (k) { return k + " " + hb.refused[k]; });
    set(document.getElementById("heartbeats"), "sent " + (hb.sent || 0) + ", received " + (hb.received || 0) +
      ", refused " + (refused.length ? refused.join(", ") : "none"));
    set(document.getElementById("vips"), (doc.vips || []).length ? doc.vips.join(", ") : "none held");
    set(document.getElementById("serial"), doc.serial_no);
    (doc.services || []).forEach(function (s) {
      (s.servers || []).forEach(function (rs) {
        var row = document.getElementById("rs-" + s.name + "-" + rs.name);
        if (!row) { return; }
        var h = healthOf(rs), k = rs.kernel;
        if (row.dataset.health !== h) {
          var l = rs.last_check;
          said.push(s.name + "/" + rs.name + " is " + h + (h === "out" && l && l.reason ? ": " + l.reason : ""));
          row.dataset.health = h;
        }
        var hc = cell(row, "health");
        if (hc) {
          hc.className = "health " + h;
          set(hc.querySelector(".word"), h);
          set(hc.querySelector(".since"), "since " + (rs.health_since ? ago(now - rs.health_since) : "start"));
        }
        set(cell(row, "weight"), rs.configured_weight);
        set(cell(row, "kweight"), k ? k.weight : "-");
        set(cell(row, "override"), override(rs));
        set(cell(row, "active-conns"), k ? k.active_conns : "-");
        set(cell(row, "inactive-conns"), k ? k.inactive_conns : "-");
        set(cell(row, "last-check"), lastCheck(rs, now));
      });
    });
    if (said.length) { announce(said.join("; ")); }
  }

  function poll() {
    timer = null;
    fetch("/status.json", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (doc) {
        update(doc);
        lastOk = Date.now();
        banner("stale", "failed", null);
        body.dataset.live = "1";
      })
      .catch(function (e) {
        banner("stale", "failed", "Stale: the last update failed (" + e.message + ").");
      })
      .then(schedule);
  }
  function schedule() {
    if (timer !== null) { clearTimeout(timer); timer = null; }
    if (every > 0) { timer = setTimeout(poll, every * 1000); }
  }
  function tick() {
    var u = document.getElementById("updated");
    if (u && lastOk !== null) { set(u, ago((Date.now() - lastOk) / 1000)); }
  }

  function pollControl() {
    var saved = Number(window.localStorage && localStorage.getItem("luaha-poll"));
    if (CHOICES.indexOf(saved) >= 0 && localStorage.getItem("luaha-poll") !== null) { every = saved; }
    var p = document.querySelector("p.updated");
    if (!p) { return; }
    var label = document.createElement("label"), sel = document.createElement("select");
    label.htmlFor = sel.id = "poll-every";
    label.textContent = " Refresh every ";
    CHOICES.forEach(function (c) {
      var o = document.createElement("option");
      o.value = String(c);
      o.textContent = c ? c + " s" : "off";
      o.selected = c === every;
      sel.appendChild(o);
    });
    sel.addEventListener("change", function () {
      every = Number(sel.value);
      try { localStorage.setItem("luaha-poll", String(every)); } catch (e) { /* private mode: not kept */ }
      schedule();
    });
    p.appendChild(label);
    p.appendChild(sel);
  }

  // Fields that only mean something with another's value: shown or hidden with it.
  function dependent() {
    var net = document.getElementById("f-network"), nat = document.getElementById("f-nat_router");
    var pers = document.getElementById("f-persistent"), pmask = document.getElementById("f-pmask");
    function show(input, on) {
      var f = input && input.closest(".field");
      if (f) { f.hidden = !on; }
    }
    function apply() {
      if (net && nat) { show(nat, net.value === "nat"); show(document.getElementById("f-nat_nmask"), net.value === "nat"); }
      if (pers && pmask) { show(pmask, pers.value !== "" && pers.value !== "0"); }
    }
    [net, pers].forEach(function (el) { if (el) { el.addEventListener("input", apply); el.addEventListener("change", apply); } });
    apply();
  }

  // A form edited and not sent: leaving the page asks first.
  function dirty() {
    var changed = false;
    document.querySelectorAll("form.edit").forEach(function (f) {
      f.addEventListener("input", function () { changed = true; });
      f.addEventListener("submit", function () { changed = false; });
    });
    window.addEventListener("beforeunload", function (e) {
      if (changed) { e.preventDefault(); e.returnValue = ""; }
    });
  }

  dependent();
  dirty();
  if (body.dataset.page === "status") {
    pollControl();
    setInterval(tick, 1000);
    poll();
  }
}());
