#!/bin/bash
# tests/netns/webui-tls-router.sh: a router with webui = 1, no status_listen and a TLS pair listens on 127.0.0.1:3636 over TLS only.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/netns.bash" || exit 2
netns_test webui-tls-router
r=luaha-wtr-$$
netns_add "$r"
ip -n "$r" link add eth0 type veth peer name eth1 && ip -n "$r" link set eth0 up && ip -n "$r" link set eth1 up && ip -n "$r" addr add 192.0.2.1/24 dev eth0 ||
	fail "eth0"
until_() { local i; for i in $(seq 150); do "$@" && return 0; sleep 0.1; done; return 1; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
	-days 2 -subj "/CN=luaha test" -addext subjectAltName=IP:127.0.0.1 > "$tmp/openssl.out" 2>&1 || fail "openssl req"
"$LUAHA" -e 'print("piranha:" .. require("luaha").auth.pwhash("s3cret"))' > "$tmp/status.passwd" || fail "pwhash"
cat > "$tmp/lvs.cf" <<CF || fail "lvs.cf"
serial_no = 1
primary = 192.0.2.1
service = fos
webui = 1
status_passwd = $tmp/status.passwd
webui_tls_cert = $tmp/cert.pem
webui_tls_key = $tmp/key.pem
failover web {
    active = 1
    address = 192.0.2.100 eth0:1
    port = 8080
    start_cmd = /bin/true
    stop_cmd = /bin/true
}
CF
out=$("$LUAHA" policies/piranha.lua -c "$tmp/lvs.cf" --check 2>&1) || fail "--check: $out"
ip netns exec "$r" "$LUAHA" --ctl "$tmp/ctl.sock" policies/piranha.lua -c "$tmp/lvs.cf" --foreground > "$tmp/daemon.log" 2>&1 &
daemon=$!
netns_background $daemon
until_ grep -q "status: listening on 127.0.0.1:3636 (TLS), with the web UI" "$tmp/daemon.log" || fail "no TLS listener"
status() { ip netns exec "$r" curl -sS -m 5 --cacert "$tmp/cert.pem" -u piranha:s3cret https://127.0.0.1:3636/status.json; }
until_ eval 'status | grep -q "\"state\": *\"active\""' || fail "no status over TLS: $(status 2>&1)"
out=$(ip netns exec "$r" curl -sS -m 5 --cacert "$tmp/cert.pem" https://127.0.0.1:3636/status.json -o /dev/null \
	-w '%{http_code}' 2>&1)
[ "$out" = 401 ] || fail "status without a password: $out"
ip netns exec "$r" curl -s -m 5 -u piranha:s3cret http://127.0.0.1:3636/status.json && fail "plain HTTP answered"
echo "PASS webui-router-listens-on-loopback-3636-over-tls"

kill -TERM "$daemon"
netns_wait "$daemon" || fail "the daemon's exit status on SIGTERM"
grep -q "stack traceback" "$tmp/daemon.log" && fail "a Lua traceback in the daemon's log"
echo "PASS webui-router-no-traceback"
