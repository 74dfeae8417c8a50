#!/bin/bash
# tests/netns/webui-setup-mode.sh: piranha --webui with an lvs.cf missing, empty or without an active service: the UI alone (here over TLS), no heartbeat part, no VIP; the first Apply of a file that runs starts the router.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The UI is a stand-in written here (luaha.webui's start{} contract: GET / says the mode, POST /apply
# writes the body as lvs.cf and calls on_applied), found with -L; it is never shipped.
. "$(dirname "$0")/../lib/netns.bash" || exit 2
netns_test webui-setup-mode
r=luaha-wsr-$$ c=luaha-wsc-$$
VIP=192.0.2.100
cf=$tmp/lvs.cf

netns_add "$r" "$c"
netns_veth "$r" eth0 "$c" eth0
ip -n "$r" addr add 192.0.2.1/24 dev eth0 && ip -n "$c" addr add 192.0.2.10/24 dev eth0 || fail "addresses"
until_() { local i; for i in $(seq 150); do "$@" && return 0; sleep 0.1; done; return 1; }
# --check only: a control socket (--ctl) would keep luaha running after it.
piranha() { "$LUAHA" -L "$tmp/ui" policies/piranha.lua -c "$cf" "$@"; }

mkdir -p "$tmp/ui/luaha" && cat > "$tmp/ui/luaha/webui.lua" <<'LUA' || fail "stand-in"
-- A stand-in for luaha.webui, for tests/netns/webui-setup-mode.sh only.
local luaha = require "luaha"
local M = {}
function M.start(opts)
    local addr, port = require("luaha.lvshttp").parse_listen(opts.listen)
    return luaha.http.listen(addr, port, function(req)
        if req.method == "POST" and req.path == "/apply" then
            local f = assert(io.open(opts.config, "w"))
            f:write(req.body)
            f:close()
            opts.setup = false
            opts.on_applied()
            return 200, "applied\n"
        end
        return 200, ("setup=%s tls=%s passwd=%s\n"):format(tostring(opts.setup), tostring(req.tls), opts.passwd)
    end, { methods = { "GET", "POST" }, tls = opts.tls })
end
return M
LUA

# --check says what a start would do: setup mode needs a users file; beyond loopback it needs TLS.
out=$(piranha --webui 127.0.0.1:3636 --check 2>&1) && fail "--check passed without a users file: $out"
grep -q "$tmp/status.passwd" <<< "$out" || fail "no users file named: $out"
"$LUAHA" -e 'print("piranha:" .. require("luaha").auth.pwhash("s3cret"))' > "$tmp/status.passwd" || fail "pwhash"
out=$(piranha --webui 127.0.0.1:3636 --check 2>&1) || fail "--check of a missing file: $out"
[ "$out" = "$cf is missing: setup mode, the web UI on 127.0.0.1:3636" ] || fail "--check said: $out"
: > "$cf"
out=$(piranha --webui 127.0.0.1:3636 --check 2>&1) || fail "--check of an empty file: $out"
grep -q "is empty: setup mode" <<< "$out" || fail "--check said: $out"
out=$(piranha --webui 0.0.0.0:3636 --check 2>&1) && fail "plain HTTP beyond loopback passed --check: $out"
grep -q "webui: the UI would listen beyond loopback (0.0.0.0:3636) in plain HTTP" <<< "$out" || fail "--check said: $out"
out=$(piranha --webui nowhere --check 2>&1); [ $? = 2 ] || fail "--webui nowhere is no usage error: $out"
echo "PASS setup-mode-check"

# A file that parses and has no active service: setup mode, with the file's users file and TLS pair.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
	-days 2 -subj "/CN=luaha test" -addext subjectAltName=IP:127.0.0.1 > "$tmp/openssl.out" 2>&1 || fail "openssl req"
globals="serial_no = 1
primary = 192.0.2.1
service = fos
status_passwd = $tmp/status.passwd
webui_tls_cert = $tmp/cert.pem
webui_tls_key = $tmp/key.pem"
printf '%s\n# no service yet\n' "$globals" > "$cf"
ip netns exec "$r" "$LUAHA" -L "$tmp/ui" --ctl "$tmp/ctl.sock" policies/piranha.lua -c "$cf" --webui 127.0.0.1:3636 \
	--foreground > "$tmp/daemon.log" 2>&1 &
daemon=$!
netns_background $daemon
ui() { ip netns exec "$r" curl -sS -m 5 --cacert "$tmp/cert.pem" "$@"; }
until_ grep -q "setup mode, the web UI on 127.0.0.1:3636 (TLS)" "$tmp/daemon.log" || fail "no setup mode"
[ "$(ui https://127.0.0.1:3636/)" = "setup=true tls=true passwd=$tmp/status.passwd" ] || fail "the UI: $(ui https://127.0.0.1:3636/)"
ip netns exec "$r" curl -s -m 5 http://127.0.0.1:3636/ && fail "plain HTTP answered on the TLS port"
# Nothing else runs: no heartbeat part (a child process), no VIP, no socket but the UI's.
[ -z "$(ps -o pid= --ppid "$daemon")" ] || fail "setup mode has child processes: $(ps -o pid,args --ppid "$daemon")"
ip -n "$r" -o addr show | grep -q " $VIP/" && fail "setup mode holds the VIP"
socks=$(ip netns exec "$r" ss -Hltun | awk '{ print $5 }')
[ "$socks" = "127.0.0.1:3636" ] || fail "setup mode's sockets: $socks"
echo "PASS setup-mode-serves-the-ui-alone"

# An Apply of a file that still cannot run: setup mode goes on, and says why.
printf '%s\nfailover web {\n    active = 0\n    address = %s eth0:1\n    port = 8080\n}\n' "$globals" "$VIP" > "$tmp/idle.cf"
[ "$(ui --data-binary @"$tmp/idle.cf" https://127.0.0.1:3636/apply)" = "applied" ] || fail "no apply"
until_ grep -q "still in setup mode" "$tmp/daemon.log" || fail "no refusal of a file without an active service"
grep -q "no active fos services defined" "$tmp/daemon.log" || fail "the reason is not logged"
[ "$(ui https://127.0.0.1:3636/)" = "setup=true tls=true passwd=$tmp/status.passwd" ] || fail "no longer in setup mode"
echo "PASS setup-mode-stays-for-a-file-that-cannot-run"

# An Apply of a file that runs: the router starts, its status on the same address, over TLS, with the users file.
printf '%s\nfailover web {\n    active = 1\n    address = %s eth0:1\n    port = 8080\n    start_cmd = /bin/true\n    stop_cmd = /bin/true\n}\n' \
	"$globals" "$VIP" > "$tmp/good.cf"
[ "$(ui --data-binary @"$tmp/good.cf" https://127.0.0.1:3636/apply)" = "applied" ] || fail "no apply"
until_ grep -q "leaving setup mode, starting the router" "$tmp/daemon.log" || fail "the router did not start"
has_vip() { ip -n "$r" -o addr show dev eth0 | grep -q " $VIP/"; }
until_ has_vip || fail "the router does not hold the VIP"
status() { ui -u piranha:s3cret https://127.0.0.1:3636/status.json; }
until_ eval 'status | grep -q "\"state\": *\"active\""' || fail "no active status over TLS at the --webui address: $(status)"
[ -n "$(ps -o pid= --ppid "$daemon")" ] || fail "no heartbeat part"
cmp -s "$cf" "$tmp/good.cf" || fail "lvs.cf is not the applied file"
echo "PASS setup-mode-apply-starts-the-router"

kill -TERM "$daemon"
netns_wait "$daemon" || fail "the daemon's exit status on SIGTERM: $?"
grep -q "stack traceback" "$tmp/daemon.log" && fail "a Lua traceback in the daemon's log"
echo "PASS setup-mode-no-traceback"
