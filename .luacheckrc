-- .luacheckrc: luacheck settings for the Lua library, policies, examples, tests and benchmarks.
-- SPDX-License-Identifier: GPL-2.0-or-later
std = "lua54"
max_line_length = 130
