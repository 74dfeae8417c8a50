#!/bin/bash
# tests/netns/webui-curl.sh: a running router's web UI driven with curl: login, 422 by the field, headers, refused POSTs, a crawl.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/netns.bash" || exit 2
netns_test webui-curl
r=luaha-wcu-$$
netns_add "$r"
ip -n "$r" link add eth0 type veth peer name eth1 && ip -n "$r" link set eth0 up && ip -n "$r" link set eth1 up &&
	ip -n "$r" addr add 192.0.2.1/24 dev eth0 || fail "eth0"
until_() { local i; for i in $(seq 150); do "$@" && return 0; sleep 0.1; done; return 1; }

"$LUAHA" -e 'print("piranha:" .. require("luaha").auth.pwhash("s3cret"))' > "$tmp/status.passwd" || fail "pwhash"
# fos: no IPVS is needed on the host; the virtual blocks are edited all the same.
cat > "$tmp/lvs.cf" <<CF || fail "lvs.cf"
# planted comment
serial_no = 1
primary = 192.0.2.1
service = fos
webui = 1
status_passwd = $tmp/status.passwd
failover web {
    active = 1
    address = 192.0.2.100 eth0:1
    port = 8080
    start_cmd = /bin/true
    stop_cmd = /bin/true
}
CF
ip netns exec "$r" "$LUAHA" --ctl "$tmp/ctl.sock" policies/piranha.lua -c "$tmp/lvs.cf" --foreground > "$tmp/daemon.log" 2>&1 &
daemon=$!
netns_background $daemon
until_ grep -q "status: listening on 127.0.0.1:3636, with the web UI" "$tmp/daemon.log" || fail "no listener with the UI"
U=http://127.0.0.1:3636
hash() { sha256sum < "$tmp/lvs.cf"; }
before=$(hash)

# c ARGS...: curl in the router's namespace with the cookie jar; prints the body, headers in $tmp/h.
c() { ip netns exec "$r" curl -sS -m 30 -b "$tmp/jar" -c "$tmp/jar" -D "$tmp/h" "$@"; }
code() { sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' "$tmp/h"; }
header() { grep -i "^$1:" "$tmp/h" | head -1 | tr -d '\r' | cut -d' ' -f2-; }
secure() {
	[ "$(header content-security-policy)" = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'" ] ||
		fail "$1: CSP $(header content-security-policy)"
	[ "$(header x-content-type-options)" = nosniff ] || fail "$1: nosniff"
	[ "$(header referrer-policy)" = same-origin ] || fail "$1: Referrer-Policy"
}

c -o /dev/null -H "Origin: $U" -d user=piranha -d password=wrong $U/login
[ "$(code)" = 401 ] || fail "a wrong password: $(code)"
c -o /dev/null -H "Origin: $U" -d user=piranha -d password=s3cret $U/login
[ "$(code)" = 303 ] || fail "login: $(code)"
header set-cookie | grep -q '^luaha_session=[0-9a-f]\{64\}; HttpOnly; SameSite=Strict; Path=/$' || fail "cookie $(header set-cookie)"
csrf=$(c $U/ | sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -1)
[ ${#csrf} = 64 ] || fail "no CSRF token on the Status page"
echo "PASS webui-curl-login"

# port 70000: 422, the reader's message where the input's aria-describedby points, the value kept
form=(-H "Origin: $U" --data-urlencode "csrf=$csrf" -d action=add -d name=shop -d active=1 -d address=192.0.2.214
	-d device=eth0:1 -d protocol=tcp -d scheduler=wlc)
body=$(c "${form[@]}" -d port=70000 $U/virtual-new)
[ "$(code)" = 422 ] || fail "port 70000: $(code)"
grep -q '<input id="f-port" name="port" aria-describedby="f-port-error" aria-invalid="true" value="70000"' <<< "$body" ||
	fail "the port input: $(grep -o '<input id="f-port"[^>]*>' <<< "$body")"
grep -qF '<span class="error" id="f-port-error">out of range: 70000 (must be 1..65535)</span>' <<< "$body" ||
	fail "the message by the field"
[ "$(hash)" = "$before" ] || fail "lvs.cf changed by a refused form"
c -o /dev/null "${form[@]}" -d port=443 $U/virtual-new
[ "$(code)" = 303 ] && [ "$(header location | tr -d '\r')" = /virtual/shop ] || fail "a good form: $(code)"
c $U/changes | grep -q '^+virtual shop {' || fail "the draft's diff has no new block"
[ "$(hash)" = "$before" ] || fail "lvs.cf changed by Save to draft"
echo "PASS webui-curl-422-by-the-field-and-save-to-draft"

# refused POSTs change nothing
post=(-d action=reload --data-urlencode "csrf=$csrf")
ip netns exec "$r" curl -sS -m 30 -D "$tmp/h" -o /dev/null -H "Origin: $U" "${post[@]}" $U/action
[ "$(code)" = 401 ] || fail "no session: $(code)"
ip netns exec "$r" curl -sS -m 30 -D "$tmp/h" -o /dev/null -u piranha:s3cret -H "Origin: $U" "${post[@]}" $U/action
[ "$(code)" = 403 ] || fail "Basic only: $(code)"
c -o /dev/null -H "Origin: $U" -d action=reload $U/action
[ "$(code)" = 403 ] || fail "no token: $(code)"
c -o /dev/null -H "Origin: http://evil.example" "${post[@]}" $U/action
[ "$(code)" = 403 ] || fail "a foreign Origin: $(code)"
secure "a refusal"
grep -q "reload" "$tmp/daemon.log" && fail "a refused POST reloaded"
[ "$(hash)" = "$before" ] || fail "lvs.cf changed by a refused POST"
echo "PASS webui-curl-posts-refused"

# a crawl of every page, GET and HEAD: the headers everywhere, nothing changed
draft=$(c $U/changes | sed -n '/<pre id="diff">/,/<\/pre>/p')
for p in / /global /redundancy /advanced /virtual /virtual/shop /virtual/shop/servers /virtual/shop/server-new \
	/virtual-new /failover /failover/web /failover-new /changes /config "/config?download=1" /status.json /metrics \
	/login /assets/app.js /assets/style.css; do
	for m in GET HEAD; do
		if [ $m = HEAD ]; then c -o /dev/null -I "$U$p"; else c -o /dev/null "$U$p"; fi
		case $(code) in 200|303) ;; *) fail "$m $p: $(code)";; esac
		secure "$m $p"
	done
done
[ "$(hash)" = "$before" ] || fail "lvs.cf changed by the crawl"
[ "$(c $U/changes | sed -n '/<pre id="diff">/,/<\/pre>/p')" = "$draft" ] || fail "the draft changed by the crawl"
echo "PASS webui-curl-crawl-changes-nothing"

kill -TERM "$daemon"
netns_wait "$daemon" || fail "the daemon's exit status on SIGTERM"
grep -q "stack traceback" "$tmp/daemon.log" && fail "a Lua traceback in the daemon's log"
echo "PASS webui-curl-no-traceback"
