-- .luacheckrc: luacheck settings for the Lua library, policies, examples, tests and benchmarks.
std = "lua54"
max_line_length = 130
