# tests/webui/webbed.py: what tests/webui/browser.py and bench/webui-task.sh share: the agent in UML, results, Chromium, forms.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run by Debian's /usr/bin/python3 (python3-selenium is installed for it, not for a pyenv python).
# Selenium is given /usr/bin/chromedriver explicitly, so Selenium Manager never tries to download one.
import base64
import hashlib
import http.client
import os
import shutil
import tempfile
import time
import urllib.parse

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

ROUTER = "192.0.2.210"
PORT = 3636
BASE = "http://%s:%d" % (ROUTER, PORT)
VIP = "192.0.2.212"
USER = "piranha"
PAGE_WAIT = 90          # seconds for a page: a login's Argon2id in a busy UML takes seconds


class Failure(Exception):
    """A step's assertion failed: FAIL."""


class Skip(Exception):
    """A step cannot run yet (a part of the UI is missing): SKIP, never PASS."""


def check(cond, why):
    if not cond:
        raise Failure(why)


def until(what, fn, timeout, every=0.2):
    """fn() until it returns a true value, for at most timeout seconds; Failure naming what otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Failure("%s: not within %.0f s" % (what, timeout))
        time.sleep(every)


class Agent:
    """Runs shell commands inside UML through tests/webui/bed.sh's agent directory (hostfs)."""

    def __init__(self, path):
        self.path = path
        self.n = 0

    def run(self, script, timeout=130):
        self.n += 1
        base = os.path.join(self.path, "%06d" % self.n)
        with open(base + ".tmp", "w") as f:
            f.write(script + "\n")
        os.rename(base + ".tmp", base + ".cmd")
        deadline = time.monotonic() + timeout
        while not os.path.exists(base + ".rc"):
            if time.monotonic() > deadline:
                raise Failure("agent: no answer in %d s to: %s" % (timeout, script))
            time.sleep(0.05)
        with open(base + ".rc") as f:
            rc = int(f.read().strip() or "255")
        with open(base + ".out", errors="replace") as f:
            out = f.read()
        return rc, out

    def out(self, script, timeout=130):
        """The output of a command that must succeed."""
        rc, out = self.run(script, timeout)
        check(rc == 0, "in UML, `%s` exit %d: %s" % (script, rc, out[-500:]))
        return out

    def lvscf(self):
        return self.out('cat "$tmp/lvs.cf"')

    def lvscf_hash(self):
        return hashlib.sha256(self.lvscf().encode()).hexdigest()

    def table(self):
        """The kernel's IPVS table in r1, without counters (ipvsadm -Sn: services, destinations, weights)."""
        return self.out("ip netns exec r1 ipvsadm -Sn")

    def ipvsadm(self):
        return self.out("ip netns exec r1 ipvsadm -Ln")


class Results:
    """Prints PASS/FAIL/SKIP lines as tests/verdict.sh reads them; remembers whether anything failed."""

    def __init__(self):
        self.failed = False
        self.done = {}

    def step(self, name, fn, *needs):
        for n in needs:
            if self.done.get(n) != "PASS":
                self.done[name] = "SKIP"
                print("SKIP %s: needs %s, which %s" % (name, n,
                      "did not run" if n not in self.done else "gave " + self.done[n]), flush=True)
                return
        t0 = time.monotonic()
        try:
            fn()
        except Skip as e:
            self.done[name] = "SKIP"
            print("SKIP %s: %s" % (name, e), flush=True)
        except (Failure, WebDriverException) as e:     # a missing element, a script error, a timeout
            self.done[name] = "FAIL"
            self.failed = True
            print("FAIL %s: %s" % (name, str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__),
                  flush=True)
        else:
            self.done[name] = "PASS"
            print("PASS %s (%.1f s)" % (name, time.monotonic() - t0), flush=True)


class Browser:
    """One headless Chromium session (a temporary profile), with screenshots numbered in shots/."""

    def __init__(self, shots, javascript=True, tag="js"):
        self.profile = tempfile.mkdtemp(prefix="webui-chromium.")
        o = webdriver.ChromeOptions()
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--user-data-dir=" + self.profile,
                  "--window-size=1280,1024", "--no-first-run", "--disable-extensions"):
            o.add_argument(a)
        if not javascript:
            o.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
        o.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        self.d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
        self.d.set_page_load_timeout(PAGE_WAIT)
        self.shots, self.tag, self.nshot = shots, tag, 0

    def quit(self):
        try:
            self.d.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def get(self, path):
        self.d.get(BASE + path)

    def path(self):
        return urllib.parse.urlsplit(self.d.current_url).path

    def shot(self, what):
        if self.shots:
            self.nshot += 1
            name = "%s-%02d-%s.png" % (self.tag, self.nshot, "".join(c if c.isalnum() else "-" for c in what))
            self.d.save_screenshot(os.path.join(self.shots, name))

    def find(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def finds(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def has(self, css):
        return len(self.finds(css)) > 0

    def statuses(self):
        """The HTTP statuses of documents loaded since the last call: [(path, status)], from the performance log."""
        out = []
        import json
        for e in self.d.get_log("performance"):
            m = json.loads(e["message"])["message"]
            if m.get("method") == "Network.responseReceived" and m["params"].get("type") == "Document":
                r = m["params"]["response"]
                out.append((urllib.parse.urlsplit(r["url"]).path, r["status"]))
        return out

    def submit(self, action, scope="", wait=PAGE_WAIT):
        """Click the submit button with that action (in the element matched by scope) and wait for the next page."""
        btn = self.find("%s button[name=action][value=%s]" % (scope, action))
        old = self.find("html")
        self.statuses()
        btn.click()
        WebDriverWait(self.d, wait).until(lambda d: _stale(old))
        WebDriverWait(self.d, wait).until(lambda d: d.execute_script("return document.readyState") == "complete")

    def fill(self, fields):
        """Type each field's value into #f-NAME: selects by value, checkboxes by truth, text replaced."""
        for name, value in fields.items():
            radio = self.finds("input[type=radio][name='%s'][value='%s']" % (name, value))
            if radio:
                radio[0].click()
                continue
            el = self.find("#f-" + name)
            if el.tag_name == "select":     # <option>tcp</option> has the value tcp but no value attribute
                opts = [o for o in Select(el).options if o.get_property("value") == str(value)]
                check(opts, "#f-%s has no option %s" % (name, value))
                if not opts[0].is_selected():
                    opts[0].click()
            elif el.get_attribute("type") in ("checkbox", "radio"):
                if el.is_selected() != bool(value):
                    el.click()
            else:
                el.clear()
                el.send_keys(str(value))

    def fill_present(self, fields):
        """fill() with the fields the form has (optional ones); the names filled."""
        have = {k: v for k, v in fields.items() if self.has("#f-" + k) or self.has("input[type=radio][name='%s']" % k)}
        self.fill(have)
        return list(have)

    def login(self, password, wait=PAGE_WAIT):
        self.get("/login")
        self.fill({"user": USER, "password": password})
        self.submit("login", wait=wait)

    def cookie(self):
        c = self.d.get_cookie("luaha_session")
        return c and c["value"]

    def csrf(self):
        return self.find("input[name=csrf]").get_attribute("value")


def _stale(el):
    try:
        el.is_enabled()
        return False
    except Exception:
        return True


def post(path, fields, headers=None, source=None, timeout=PAGE_WAIT):
    """A POST from this namespace (source address optional): status, headers, body."""
    c = http.client.HTTPConnection(ROUTER, PORT, timeout=timeout, source_address=(source, 0) if source else None)
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    h.update(headers or {})
    c.request("POST", path, urllib.parse.urlencode(fields), h)
    r = c.getresponse()
    body = r.read().decode(errors="replace")
    c.close()
    return r.status, dict(r.getheaders()), body


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def ui_present():
    """True when the listener serves the UI's login page; else the reason to skip."""
    c = http.client.HTTPConnection(ROUTER, PORT, timeout=30)
    c.request("GET", "/login")
    r = c.getresponse()
    body = r.read().decode(errors="replace")
    c.close()
    if r.status == 200 and 'id="f-password"' in body:
        return True
    return "no login page at /login (HTTP %d): the UI is not served yet (web-pages, web-tls)" % r.status
