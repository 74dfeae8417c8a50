#!/usr/bin/python3
# tests/webui/browser.py: the web UI's steps in headless Chromium (spec webui.md 3.11, 1-12), each a PASS, FAIL or SKIP line.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run in the host namespace wbclient (192.0.2.10 and .11 on a tap into UML) by tests/browser/webui-browser.sh,
# against tests/webui/bed.sh in UML: luaha at 192.0.2.210:3636, real servers rs1 192.0.2.204 and rs2
# 192.0.2.205 for the VIP 192.0.2.212. Only the markup contract of BRIEF14 and the URLs of spec 3.2 are
# used: fields #f-KEY named by the lvs.cf key, buttons name=action, #login-error, on the Status page
# tr#vs-VIRTUAL (cell .n-in) leading to /status/virtual/VIRTUAL, there tr#rs-VIRTUAL-SERVER with data-health
# and cells .health .weight .kweight .last-check, #diff, #ipvs-ops li, body[data-live].
# A step whose page is not there yet prints SKIP with the reason. --task runs only the fifteen-minute
# task (bench/webui-task.sh) and prints its time.
import argparse
import re
import socket
import sys
import time

sys.path.insert(0, sys.path[0])
from webbed import (BASE, USER, VIP, Agent, Browser, Failure, Results, Skip, basic,  # noqa: E402
                    check, post, ui_present, until)

PASSWORD = "piranha-pw-1"       # tests/webui/bed.sh's default WEBUI_PASSWORD
SECOND_PEER = "192.0.2.11"      # the login limiter is per address: it is tried from here


def review_ops(b):
    b.get("/changes")
    b.shot("review")
    check(b.has("#ipvs-ops"), "the Review page has no #ipvs-ops")
    # What Apply sends, then (#ipvs-later) what follows as the real servers pass their first check.
    return [li.text.strip() for li in b.finds("#ipvs-ops li, #ipvs-later li")]


def build(b, name, vip, port, servers, fast_checks=True):
    """Through the forms only: virtual NAME at VIP:PORT tcp wlc on eth0:1, its real servers {name: address}."""
    b.get("/virtual")
    b.shot("virtual-list")
    add(b, "the Virtual servers page")
    b.shot("virtual-new")
    check(b.has("#f-name"), "Add did not give a virtual server form (#f-name) but %s" % b.path())
    b.fill({"name": name, "address": vip, "device": "eth0:1", "port": port, "protocol": "tcp", "scheduler": "wlc"})
    if fast_checks:     # the death of a real server is seen in seconds, not in the default 10 s
        b.fill_present({"timeout": 2, "check_interval": 0.5, "reentry": 1, "fall": 1})
    save(b)
    check(not b.has("[aria-invalid=true]"), "saving virtual %s was refused: %s" % (name, _errors(b)))
    for rs, addr in servers.items():
        b.get("/virtual/%s/servers" % name)
        b.shot("servers-of-" + name)
        add(b, "the real servers page of " + name)
        check(b.has("#f-name") and b.has("#f-address"), "Add gave no real server form at %s" % b.path())
        b.fill({"name": rs, "address": addr})
        b.fill_present({"weight": 1})
        save(b)
        check(not b.has("[aria-invalid=true]"), "saving real server %s was refused: %s" % (rs, _errors(b)))


def add(b, where):
    """The Add of a list page: a button (action=add), or a link to the empty form (PATH-new)."""
    if b.has("button[name=action][value=add]"):
        b.submit("add")
        return
    links = b.finds("a[href$='-new']")
    check(links, "%s has no Add button or link" % where)
    b.get(links[0].get_attribute("href")[len(BASE):])


def save(b):
    """Save to draft: an empty form's button is Add to draft (action=add), an existing one's Save (action=save)."""
    b.submit("add" if b.has("button[name=action][value=add]") else "save")


def _errors(b):
    return "; ".join(e.text for e in b.finds("[id$=-error]") if e.text.strip()) or "(no message)"


def expect_service_op(ops, vip, port):
    want = "-A -t %s:%d -s wlc" % (vip, port)
    check(any(o.startswith(want) for o in ops), "no `%s` among the Review's operations %r" % (want, ops))


def expect_ops(ops, vip, port, addrs):
    expect_service_op(ops, vip, port)
    for a in addrs:
        pat = re.compile(r"^-a -t %s:%d -r %s(:%d)? -g -w 1$" % (re.escape(vip), port, re.escape(a), port))
        check(any(pat.match(o) for o in ops), "no `-a -t %s:%d -r %s -g -w 1` among %r" % (vip, port, a, ops))


def apply(b):
    b.get("/changes")
    b.submit("apply")
    b.shot("applied")
    st = b.statuses()
    check(not any(s >= 400 for _, s in st), "Apply answered %r" % st)


def kernel_has(agent, vip, port, addrs, timeout=60):
    """Until ipvsadm -Ln in r1 shows the service with these destinations (the router starts, checks pass)."""
    def ok():
        t = agent.ipvsadm()
        return ("TCP  %s:%d wlc" % (vip, port)) in t and all(
            re.search(r"-> %s:%d\s+Route\s+1\s" % (re.escape(a), port), t) for a in addrs) and t
    return until("ipvsadm -Ln shows %s:%d with %s" % (vip, port, ", ".join(addrs)), ok, timeout, 0.5)


class Run:
    def __init__(self, args):
        self.a = args
        self.agent = Agent(args.agent)
        self.r = Results()
        self.b = None
        self.seed = None
        self.mode = open(args.agent + "/ready").read().strip()
        self.ui = None

    def need_ui(self):
        if self.ui is None:
            self.ui = ui_present()
        if self.ui is not True:
            raise Skip(self.ui)

    def browser(self):
        if self.b is None:
            self.b = Browser(self.a.shots, True, "js")
        return self.b

    # The bed: the browser on the host loads the router's page through the tap; the agent answers.
    def bed(self):
        self.seed = self.agent.lvscf()
        b = self.browser()
        t0 = time.monotonic()
        b.get("/")
        b.shot("first-page")
        st = b.statuses()
        check(st and st[0][1] in (200, 303, 401), "GET / answered %r" % st)
        print("first page through the tap in %.2f s: %s %r (%s)" % (time.monotonic() - t0, b.path(), st, self.mode))
        check("TCP" in self.agent.ipvsadm() or self.mode.startswith("mode=setup"), "no IPVS table in r1")

    def step1_login(self):
        self.need_ui()
        # The limiter from the second address: five wrong passwords, the sixth try shows the wait,
        # and the right password then waits too.
        for i in range(5):
            s, _, body = post("/login", {"user": USER, "password": "wrong-%d" % i}, {"Origin": BASE}, SECOND_PEER)
            check(s != 303, "wrong password %d was let in" % (i + 1))
        s, _, body6 = post("/login", {"user": USER, "password": "wrong-6"}, {"Origin": BASE}, SECOND_PEER)
        m = re.search(r'id="login-error"[^>]*>([^<]*)<', body6)
        check(m and re.search(r"\d", m.group(1)), "the 6th wrong login shows no wait: %r" % (m and m.group(1)))
        s, _, _ = post("/login", {"user": USER, "password": PASSWORD}, {"Origin": BASE}, SECOND_PEER)
        check(s != 303, "the right password was let in during the wait")
        print("the 6th try from %s: %s" % (SECOND_PEER, m.group(1).strip()))
        # In the browser: a wrong password shows an error; the right one lands on Status.
        b = self.browser()
        b.login("not-the-password")
        b.shot("login-refused")
        check(b.path() == "/login" and b.find("#login-error").text.strip(), "a wrong password showed no error")
        b.login(PASSWORD)
        b.shot("status-after-login")
        check(b.path() == "/" and not b.has("#f-password"), "the right password did not land on Status: %s" % b.path())

    def step2_build(self):
        self.need_ui()
        b = self.browser()
        build(b, "web", VIP, 80, {"rs1": "192.0.2.204", "rs2": "192.0.2.205"})
        self.ops = review_ops(b)
        check(b.has("#diff") and "virtual web {" in b.find("#diff").text, "the Review's diff lacks `virtual web {`")
        check(self.agent.lvscf() == self.seed, "lvs.cf changed before Apply")

    def step2_review_ops(self):
        # Its own step, so that the steps after Apply run whatever it says: in setup mode there is no live
        # table to compare with, and a new real server enters the kernel's table after its first good check,
        # so a dry run may leave out what spec 3.11 step 2 asks the Review to list.
        expect_ops(self.ops, VIP, 80, ["192.0.2.204", "192.0.2.205"])

    def step3_apply(self):
        apply(self.browser())
        text = self.agent.lvscf()
        rc, out = self.agent.run('"$LUAHA" policies/piranha.lua -c "$tmp/lvs.cf" --check')
        check(rc == 0, "--check of the applied lvs.cf: %s" % out.strip())
        for blk in ("virtual web {", "server rs1 {", "server rs2 {"):
            check(blk in text, "the applied lvs.cf lacks `%s`" % blk)
        check("\nserial_no = 8\n" in text, "serial_no is not 8 (was 7): %s" % re.findall(r"serial_no.*", text))
        first = self.seed.splitlines(True)[0]
        check(first.startswith("#") and first in text.splitlines(True), "the seed's comment line is gone or changed")
        check(self.agent.out('cat "$tmp/lvs.cf.bak"') == self.seed, "lvs.cf.bak is not the old file")
        self.web_text = text
        # In setup mode the first Apply starts the router, and its listener: is the session still good?
        # (Logged in again if not, so that the steps after this one run; step 3b says what happened.)
        b = self.browser()
        b.get("/")
        self.session_lost = b.path() == "/login"
        if self.session_lost:
            b.login(PASSWORD)
            check(b.path() == "/", "logging in again after Apply failed: %s" % b.path())

    def step3_session_kept(self):
        check(not self.session_lost, "the first Apply ended the session: the Status page asked to log in again")

    def step4_kernel(self):
        t = kernel_has(self.agent, VIP, 80, ["192.0.2.204", "192.0.2.205"])
        rc, out = self.agent.run(
            'ip netns exec r1 ipvsadm -Ln > "$tmp/ipvsadm" && ip netns exec r1 curl -s -m 30 -u piranha:%s '
            'http://192.0.2.210:3636/status.json | "$LUAHA" tests/lib/status-check.lua "$tmp/ipvsadm"' % PASSWORD)
        check(rc == 0, "status.json against ipvsadm -Ln: %s" % out.strip())
        b = self.browser()
        # The Status page: web's summary row, both in, leading to web's own status page with the rows.
        b.get("/")
        until("the Status page's row tr#vs-web with 2 in", lambda: (b.has("tr#vs-web") and b.find(
            "tr#vs-web .n-in").text.strip() == "2") or b.d.refresh(), 20, 1)
        b.shot("status-summary")
        check(not b.has("tr#rs-web-rs1"), "the Status page has real server rows: it should have a row per virtual")
        b.find("tr#vs-web a[href='/status/virtual/web']").click()
        until("web's status page", lambda: b.path() == "/status/virtual/web", 20)
        b.shot("status-web")
        for rs, addr in (("rs1", "192.0.2.204"), ("rs2", "192.0.2.205")):
            row = "tr#rs-web-%s" % rs
            until("the Status row %s" % row, lambda: b.has(row) or b.d.refresh(), 20, 1)
            kw = re.search(r"-> %s:80\s+Route\s+(\d+)" % re.escape(addr), t).group(1)
            cell = b.find(row + " .kweight").text
            check(re.search(r"\b%s\b" % kw, cell), "%s: kernel weight cell %r, ipvsadm says %s" % (rs, cell, kw))
            check(b.find(row).get_attribute("data-health") == "in", "%s is not in on the Status page" % rs)

    def step5_bad_value(self):
        b = self.browser()
        before = self.agent.lvscf_hash()
        b.get("/virtual/web")
        b.fill({"port": "70000"})
        b.submit("save")
        b.shot("virtual-port-70000")
        st = b.statuses()
        check(st and st[-1][1] == 422, "saving port 70000 answered %r, not 422" % st)
        port = b.find("#f-port")
        check(port.get_attribute("value") == "70000", "the typed value was not kept: %r" % port.get_attribute("value"))
        check(port.get_attribute("aria-invalid") == "true", "the port input is not aria-invalid")
        ids = (port.get_attribute("aria-describedby") or "").split()
        msgs = [b.find("#" + i).text for i in ids if b.has("#" + i)]
        check(any("out of range: 70000 (must be 1..65535)" in m for m in msgs),
              "the port's aria-describedby %r says %r" % (ids, msgs))
        check(self.agent.lvscf_hash() == before, "lvs.cf changed")

    def step6_health_live(self):
        b = self.browser()
        b.get("/status/virtual/web")
        until("app.js's first poll (body[data-live=1])",
              lambda: b.d.execute_script("return document.body.dataset.live") == "1", 30)
        b.d.execute_script("window.webuiMarker = 42")
        row = "tr#rs-web-rs2"
        t0 = time.monotonic()
        self.agent.out("rs_stop rs2")
        until("rs2 out on the Status page", lambda: b.find(row).get_attribute("data-health") == "out", 30)
        took = time.monotonic() - t0
        b.shot("status-rs2-out")
        check(b.d.execute_script("return window.webuiMarker") == 42, "the page was loaded again")
        reason = b.find(row + " .last-check").text.strip()
        check(reason, "the rs2 row gives no reason for the failed check")
        t = self.agent.ipvsadm()
        m = re.search(r"-> 192\.0\.2\.205:80\s+Route\s+(\d+)", t)
        cell = b.find(row + " .kweight").text
        if m:
            check(re.search(r"\b%s\b" % m.group(1), cell), "rs2 kernel weight cell %r, ipvsadm %s" % (cell, m.group(1)))
        else:
            check(not re.search(r"\d", cell), "rs2 is out of the kernel table but its cell says %r" % cell)
        print("rs2 out on the page %.1f s after its server stopped: %s" % (took, reason))
        # rs1 is now the last one in: Disable asks first, in a <dialog> on the page; Cancel changes nothing.
        table0 = self.agent.table()
        b.find("tr#rs-web-rs1 button[name=action][value=disable]").click()
        until("the confirmation dialog", lambda: b.d.execute_script(
            "var d = document.getElementById('confirm'); return d && d.open"), 10)
        asked = b.find("#confirm-text").text
        check("last healthy" in asked, "the dialog asks %r" % asked)
        b.shot("status-confirm-dialog")
        b.find("#confirm button:not(.yes)").click()
        check(not b.d.execute_script("return document.getElementById('confirm').open"), "Cancel left the dialog open")
        check(b.d.execute_script("return window.webuiMarker") == 42, "the page was loaded again")
        check(b.find("tr#rs-web-rs1").get_attribute("data-health") == "in", "rs1 is not in after Cancel")
        check(self.agent.table() == table0, "Cancel changed the kernel table")
        self.agent.out("rs_start rs2")
        until("rs2 back in on the Status page", lambda: b.find(row).get_attribute("data-health") == "in", 60)
        check(b.d.execute_script("return window.webuiMarker") == 42, "the page was loaded again")
        b.shot("status-rs2-back")

    def step7_drain(self):
        b = self.browser()
        held = []
        for _ in range(4):      # wlc shares them out: some reach rs1
            s = socket.create_connection((VIP, 80), timeout=10)
            held.append(s)

        def active_rs1():
            m = re.search(r"-> 192\.0\.2\.204:80\s+Route\s+(\d+)\s+(\d+)", self.agent.ipvsadm())
            return m and int(m.group(2)) > 0 and m
        until("an open connection on rs1", active_rs1, 20, 0.5)
        b.get("/status/virtual/web")
        b.submit("drain", "tr#rs-web-rs1")
        b.shot("status-rs1-drained")
        m = until("rs1 weight 0 in the kernel", lambda: re.search(
            r"-> 192\.0\.2\.204:80\s+Route\s+0\s+(\d+)", self.agent.ipvsadm()), 30, 0.5)
        check(int(m.group(1)) > 0, "draining rs1 dropped its connections")
        answers = []
        for s in held:          # every held connection still answers, rs1's among them
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            answers.append(s.recv(4096).decode(errors="replace").split("\r\n\r\n")[-1].strip())
            s.close()
        check("rs1" in answers, "no held connection answered from rs1 after the drain: %r" % answers)
        check(b.path() == "/status/virtual/web", "after Drain the browser is at %s, not web's status page" % b.path())
        b.submit("enable", "tr#rs-web-rs1")
        until("rs1 weight 1 again", lambda: re.search(r"-> 192\.0\.2\.204:80\s+Route\s+1\s", self.agent.ipvsadm()),
              30, 0.5)
        b.shot("status-rs1-enabled")

    def step9_refused(self):
        b = self.browser()
        b.get("/global")
        token, cookie = b.csrf(), b.cookie()
        check(token and cookie, "no CSRF token or session cookie in the browser")
        before = self.agent.lvscf_hash()
        field = {"action": "save", "tcp_timeout": "5"}
        cases = [
            ("no session", field | {"csrf": token}, {"Origin": BASE}, (401, 403)),
            ("no token", field, {"Origin": BASE, "Cookie": "luaha_session=" + cookie}, (403,)),
            ("wrong token", field | {"csrf": "x" * len(token)}, {"Origin": BASE, "Cookie": "luaha_session=" + cookie},
             (403,)),
            ("foreign Origin", field | {"csrf": token}, {"Origin": "http://evil.example",
                                                         "Cookie": "luaha_session=" + cookie}, (403,)),
            ("Basic auth", field | {"csrf": token}, {"Origin": BASE, "Authorization": basic(USER, PASSWORD)},
             (401, 403)),
        ]
        for what, f, h, want in cases:
            s, _, _ = post("/global", f, h)
            check(s in want, "a POST with %s answered %d, not %s" % (what, s, want))
            check(self.agent.lvscf_hash() == before, "lvs.cf changed after a POST with %s" % what)
        # The same POST done right is taken (into the draft, not the file): the refusals above were real ones.
        s, _, _ = post("/global", field | {"csrf": token}, {"Origin": BASE, "Cookie": "luaha_session=" + cookie})
        check(s == 303, "the good POST answered %d, not 303" % s)
        check(self.agent.lvscf_hash() == before, "saving to the draft changed lvs.cf")
        b.get("/changes")
        b.submit("discard")

    def step10_crawl(self):
        b = self.browser()
        file0, table0 = self.agent.lvscf_hash(), self.agent.table()
        b.get("/changes")
        pending0 = b.has("#pending")
        seen, todo, problems = set(), ["/"], []
        while todo and len(seen) < 60:
            p = todo.pop(0)
            if p in seen:
                continue
            seen.add(p)
            b.get(p)
            b.shot("page" + p)
            problems += self.labels(b, p)
            for a in b.finds("a[href]"):
                u = a.get_attribute("href")
                if u.startswith(BASE + "/") and "#" not in u and not u.startswith(BASE + "/logout"):
                    todo.append(u[len(BASE):])
        print("crawled %d pages" % len(seen))
        check(len(seen) >= 8, "only %d pages found by following links: %r" % (len(seen), sorted(seen)))
        check(self.agent.lvscf_hash() == file0, "a GET changed lvs.cf")
        check(self.agent.table() == table0, "a GET changed the kernel table")
        b.get("/changes")
        check(b.has("#pending") == pending0, "a GET changed the draft")
        self.label_problems = problems

    @staticmethod
    def labels(b, page):
        """spec 3.10, a small checker in place of axe-core: inputs without a label, tables without headers."""
        return b.d.execute_script("""
            var page = arguments[0], out = [];
            document.querySelectorAll('input, select, textarea').forEach(function (e) {
                if (e.type === 'hidden' || e.type === 'submit' || e.type === 'button') return;
                if (e.labels.length === 0 && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
                    out.push(page + ': input ' + (e.name || e.id) + ' has no label');
            });
            document.querySelectorAll('table').forEach(function (t) {
                if (!t.querySelector('th')) out.push(page + ': table ' + t.id + ' has no th');
                if (!t.querySelector('caption')) out.push(page + ': table ' + t.id + ' has no caption');
            });
            return out;""", page)

    def step12_labels(self):
        check(not self.label_problems, "; ".join(self.label_problems[:10]))

    def step8_no_javascript(self):
        nb = Browser(self.a.shots, False, "nojs")
        try:
            # The session of the first browser, not a login: Argon2id costs seconds in UML, and step 1 logged in.
            nb.get("/login")
            nb.d.add_cookie({"name": "luaha_session", "value": self.browser().cookie(), "path": "/", "httpOnly": True})
            nb.get("/")
            nb.shot("status")
            check(nb.path() == "/", "no Status page with the session, without JavaScript: %s" % nb.path())
            time.sleep(3)
            check(nb.d.execute_script("return document.body.dataset.live") is None, "app.js ran: JavaScript is on")
            build(nb, "web8080", VIP, 8080, {"rs1": "192.0.2.204", "rs2": "192.0.2.205"})
            ops = review_ops(nb)
            if self.r.done.get("webui-2-review-lists-ipvs-ops") == "PASS":     # else said there
                expect_service_op(ops, VIP, 8080)
            apply(nb)
            text = self.agent.lvscf()
            rc, out = self.agent.run('"$LUAHA" policies/piranha.lua -c "$tmp/lvs.cf" --check')
            check(rc == 0, "--check: %s" % out.strip())
            check("virtual web8080 {" in text and "\nserial_no = 9\n" in text, "lvs.cf lacks web8080 or serial_no 9")
            check(self.agent.out('cat "$tmp/lvs.cf.bak"') == self.web_text, "lvs.cf.bak is not the previous file")
            until("the kernel's 192.0.2.212:8080", lambda: ("%s:8080" % VIP) in self.agent.ipvsadm(), 60, 0.5)
        finally:
            nb.quit()

    def step11_insecure(self):
        if self.mode.startswith("mode=status"):
            raise Skip("this build has no webui option (web-tls not merged)")
        # The probe's file: lvs.cf's settings and a virtual (a file without one is refused for that).
        cf = ('sed -e "s/^status_listen = .*/status_listen = 0.0.0.0:3636/" -e "/^webui_insecure/d" '
              '-e "/^webui_tls/d" "$tmp/probe.cf" > "$tmp/wide.cf"')
        self.agent.out(cf)
        rc, out = self.agent.run('"$LUAHA" policies/piranha.lua -c "$tmp/wide.cf" --check')
        check(rc != 0 and "webui" in out, "--check of a wide listener without TLS: exit %d, %s" % (rc, out.strip()))
        rc, out = self.agent.run('ip netns add r11 && ip -n r11 link set lo up && '
                                 'timeout 60 ip netns exec r11 "$LUAHA" --ctl "$tmp/r11.sock" policies/piranha.lua '
                                 '-c "$tmp/wide.cf" --foreground; rc=$?; ip netns del r11; exit $rc')
        check(rc not in (0, 124) and "webui" in out, "starting it: exit %d, %s" % (rc, out.strip()[-300:]))
        print("refused: %s" % out.strip().splitlines()[-1])

    def main(self):
        r = self.r
        try:
            r.step("webui-bed", self.bed)
            r.step("webui-1-login-limits", self.step1_login, "webui-bed")
            r.step("webui-2-build-and-review", self.step2_build, "webui-1-login-limits")
            r.step("webui-2-review-lists-ipvs-ops", self.step2_review_ops, "webui-2-build-and-review")
            r.step("webui-3-apply-keeps-file", self.step3_apply, "webui-2-build-and-review")
            r.step("webui-3-session-kept-after-apply", self.step3_session_kept, "webui-3-apply-keeps-file")
            r.step("webui-4-kernel-matches-status", self.step4_kernel, "webui-3-apply-keeps-file")
            r.step("webui-5-bad-value-422", self.step5_bad_value, "webui-3-apply-keeps-file")
            r.step("webui-6-death-shown-live", self.step6_health_live, "webui-4-kernel-matches-status")
            r.step("webui-7-drain-keeps-connection", self.step7_drain, "webui-4-kernel-matches-status")
            r.step("webui-9-refused-posts", self.step9_refused, "webui-1-login-limits")
            r.step("webui-10-crawl-changes-nothing", self.step10_crawl, "webui-1-login-limits")
            r.step("webui-12-labels-and-headers", self.step12_labels, "webui-10-crawl-changes-nothing")
            r.step("webui-8-no-javascript", self.step8_no_javascript, "webui-3-apply-keeps-file")
            r.step("webui-11-wide-listener-refused", self.step11_insecure, "webui-bed")
        finally:
            if self.b:
                self.b.quit()
        return 1 if r.failed else 0

    def task(self):
        """The fifteen-minute task, scripted: log in, build web with two servers, review, apply, kernel has it."""
        self.need_ui()
        t0 = time.monotonic()
        b = self.browser()
        try:
            b.login(PASSWORD)
            check(b.path() == "/", "login")
            t1 = time.monotonic()
            b.get("/global")    # what a first-time user fills first (the fields this page has)
            b.fill_present({"primary": "192.0.2.210", "network": "direct"})
            b.submit("save")
            check(not b.has("[aria-invalid=true]"), "Global settings refused: %s" % _errors(b))
            build(b, "web", VIP, 80, {"rs1": "192.0.2.204", "rs2": "192.0.2.205"}, fast_checks=False)
            review_ops(b)       # read, as a person would; what it must list is the test's (step 2)
            apply(b)
            t2 = time.monotonic()
            kernel_has(self.agent, VIP, 80, ["192.0.2.204", "192.0.2.205"], 120)
            t3 = time.monotonic()
        finally:
            b.quit()
        print("webui-task: %.1f s in all (login %.1f s, forms to Apply %.1f s, Apply to kernel table %.1f s); "
              "target under 60 s" % (t3 - t0, t1 - t0, t2 - t1, t3 - t2))
        return 0 if t3 - t0 < 60 else 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--agent", required=True, help="tests/webui/bed.sh's agent directory")
    p.add_argument("--shots", default="", help="directory for screenshots")
    p.add_argument("--luaha", default="./luaha")
    p.add_argument("--task", action="store_true", help="time the fifteen-minute task only")
    a = p.parse_args()
    run = Run(a)
    if a.task:
        try:
            return run.task()
        except (Skip, Failure) as e:
            print("webui-task: %s %s" % ("SKIP" if isinstance(e, Skip) else "FAIL", e))
            return 0 if isinstance(e, Skip) else 1
    return run.main()


if __name__ == "__main__":
    sys.exit(main())
