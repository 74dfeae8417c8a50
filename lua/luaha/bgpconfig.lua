-- lua/luaha/bgpconfig.lua: `luaha bgp-config`: the BIRD 2 snippet that exports an anycast director's announcements over BGP.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
A command, run once (runtime/main.c starts it for `luaha bgp-config`). It reads the configuration
(-c FILE, default /etc/sysconfig/ha/lvs.cf, or a Lua configuration) for its bgp_table and
bgp_proto, and prints what BIRD needs to learn the blackhole routes luaha adds there
(lua/luaha/anycast.lua) and announce them: a routing table of their own, a kernel protocol that
learns that kernel table (`learn`, the routes of protocol bgp_proto, exporting nothing back),
BFD, and a commented BGP template exporting those routes with `next hop self`. Exit status 0,
1 for a file with errors (on the standard error), 2 for a bad option (luaha(8)).
]]
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"

local bgpconfig = {}

local USAGE = "usage: luaha bgp-config [-c FILE]"
local DEFAULT_CONFIG = "/etc/sysconfig/ha/lvs.cf"

-- text(m, path): the snippet for model m, read from path.
function bgpconfig.text(m, path)
    local t, p = m.bgp_table, m.bgp_proto
    local vips, seen = {}, {}
    for _, v in ipairs(m.virtuals) do
        if v.active and not seen[v.address] then
            seen[v.address] = true
            vips[#vips + 1] = v.address
        end
    end
    return ([[
# BIRD 2 configuration for a luaha anycast director, from %s
# (luaha bgp-config). luaha announces each VIP it can serve (now: %s)
# as "blackhole VIP/32" in kernel table %d with protocol %d, and withdraws it by
# deleting that route; BIRD learns the table and announces its routes over BGP.
# Include it from bird.conf (include "/etc/bird/luaha.conf";) and fill in the BGP part.

ipv4 table luaha_vips;

# Learns the routes luaha adds to kernel table %d; writes nothing to the kernel.
protocol kernel luaha_kernel {
	kernel table %d;
	learn;
	scan time 10;
	ipv4 {
		table luaha_vips;
		import where krt_source = %d;
		export none;
	};
}

# A dead director is out of the upstream router's table in 0.3 s (100 ms x 3),
# not a hold time; the upstream router needs BFD too.
protocol bfd luaha_bfd {
	interface "*" {
		min rx interval 100 ms;
		min tx interval 100 ms;
		multiplier 3;
	};
}

# protocol bgp upstream {
#	local as 64512;			# this director's AS (the same on every director)
#	neighbor 198.51.100.1 as 64500;	# the upstream router
#	bfd on;
#	ipv4 {
#		table luaha_vips;
#		import none;
#		export where krt_source = %d;
#		next hop self;		# a blackhole route has no next hop of its own
#	};
# }
]]):format(path, #vips > 0 and table.concat(vips, ", ") or "none", t, p, t, t, p, p)
end

function bgpconfig.main(...)
    local args = { ... }
    local path = DEFAULT_CONFIG
    local i = 1
    while i <= #args do
        local a = args[i]
        if a == "-h" or a == "--help" then
            print(USAGE)
            return luaha.exit(0)
        elseif a == "-c" and args[i + 1] then
            path = args[i + 1]
            i = i + 1
        else
            io.stderr:write("luaha bgp-config: ", a == "-c" and "-c needs a file" or "unknown argument " .. a, "\n",
                USAGE, "\n")
            return luaha.exit(2)
        end
        i = i + 1
    end
    local m, errors, warnings = lvscf.load_any(path)
    for _, w in ipairs(warnings or {}) do io.stderr:write(w, "\n") end
    if not m then
        for _, e in ipairs(errors) do io.stderr:write(e, "\n") end
        return luaha.exit(1)
    end
    if m.cluster ~= "anycast" then
        io.stderr:write(("luaha bgp-config: %s: cluster is %s: the routes are added only with cluster = anycast\n")
            :format(path, m.cluster))
    end
    io.write(bgpconfig.text(m, path))
    return luaha.exit(0)
end

return bgpconfig
