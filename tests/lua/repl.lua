-- tests/lua/repl.lua: pretty.format's layout, and repl.run fed scripted lines: values, continuation, errors, waiting, help.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local harness = require "t"
local luaha = require "luaha"
local pretty = require "luaha.pretty"
local repl = require "luaha.repl"

local test, eq, checkerr = harness.test, harness.eq, harness.checkerr

print("EXPECT-TRACEBACK")     -- the budget test below logs the stopped line's traceback

-- Runs the REPL on lines; returns what it wrote, what it wrote as errors, the prompts and the history.
local function session(lines, opts)
    local out, err, prompts, history, i = {}, {}, {}, {}, 0
    opts = opts or {}
    opts.read = function(prompt)
        prompts[#prompts + 1] = prompt
        i = i + 1
        return lines[i]
    end
    opts.write = function(s) out[#out + 1] = s end
    opts.write_error = function(s) err[#err + 1] = s end
    opts.add_history = function(line) history[#history + 1] = line end
    repl.run(opts)
    return table.concat(out), table.concat(err), table.concat(prompts, "|"), table.concat(history, "|")
end

test("pretty-scalars", function()
    eq(pretty.format(42), "42")
    eq(pretty.format(1.5), "1.5")
    eq(pretty.format(nil), "nil")
    eq(pretty.format(true), "true")
    eq(pretty.format('a\n"b"\t\\\0'), [["a\n\"b\"\t\\\000"]])
    eq(pretty.format(print), tostring(print))
    eq(pretty.format({}), "{}")
end)

test("pretty-sorted", function()
    local t = { "x", "y", z = 1, a = 2, [10] = 0, [2.5] = 1, ["end"] = 3, ["a b"] = 4, [true] = 5 }
    eq(pretty.format(t, { width = 100 }),
        '{ "x", "y", [2.5] = 1, [10] = 0, a = 2, ["a b"] = 4, ["end"] = 3, z = 1, [true] = 5 }')
    eq(pretty.format({ [3] = "c", [1] = "a" }), '{ "a", [3] = "c" }', "hole ends the sequence")
end)

test("pretty-nested", function()
    eq(pretty.format({ a = { b = { 1, 2 } } }), "{ a = { b = { 1, 2 } } }")
    local t = { name = "a fairly long name for a server", address = "192.0.2.10",
        ports = { 80, 443 }, weight = 100 }
    eq(pretty.format(t), table.concat({
        "{",
        '  address = "192.0.2.10",',
        '  name = "a fairly long name for a server",',
        "  ports = { 80, 443 },",
        "  weight = 100",
        "}" }, "\n"))
    eq(pretty.format({ t }, { indent = "    " }), table.concat({
        "{",
        "    {",
        '        address = "192.0.2.10",',
        '        name = "a fairly long name for a server",',
        "        ports = { 80, 443 },",
        "        weight = 100",
        "    }",
        "}" }, "\n"))
end)

test("pretty-cycle", function()
    local t = { 1 }
    t.self = t
    eq(pretty.format(t), "{ 1, self = <cycle> }")
    local a = { name = "a" }
    a.child = { parent = a }
    eq(pretty.format(a), '{ child = { parent = <cycle> }, name = "a" }')
    local shared = { 1 }
    eq(pretty.format({ shared, shared }), "{ { 1 }, { 1 } }", "shared, not cyclic")
end)

test("pretty-depth", function()
    local t = { a = { b = { c = { d = 1 } } } }
    eq(pretty.format(t), "{ a = { b = { c = {...} } } }")
    eq(pretty.format(t, { depth = 1 }), "{ a = {...} }")
    eq(pretty.format(t, { depth = 0 }), "{...}")
    eq(pretty.format(t, { depth = 10 }), "{ a = { b = { c = { d = 1 } } } }")
end)

test("pretty-objects", function()
    local obj = setmetatable({ secret = 1 }, { __tostring = function() return "server web1" end })
    eq(pretty.format({ obj }), "{ server web1 }")
    checkerr("unknown option", pretty.format, {}, { deep = 1 })
    checkerr("must be a number", pretty.format, {}, { depth = "3" })
end)

test("repl-expressions", function()
    local out, err, prompts = session({ "1+1", "'a', 2, nil", "{ 1, x = 2 }", "print('p', 1)", "" })
    eq(out, '2\na\t2\tnil\n{ 1, x = 2 }\np\t1\n', "output")
    eq(err, "", "errors")
    eq(prompts, "> |> |> |> |> |> ", "prompts")
end)

test("repl-strings-as-text", function()
    -- a string the line returns is written as its text; inside a table it stays quoted
    local out, err = session({ "'one\\ntwo\\n'", "'x'", "''", "{ 'q' }", "'a', 'b\\n'", "'tab\\there', 1" })
    eq(out, 'one\ntwo\nx\n\n{ "q" }\na\tb\ntab\there\t1\n', "output")
    eq(err, "", "errors")
end)

test("repl-help", function()
    local out = {}
    local env = repl.env(function(s) out[#out + 1] = s end)
    env.help()
    local text = table.concat(out)
    for _, want in ipairs({ "luaha, the module", "luaha.net ", "listen_unix", "luaha.log ", "library modules loaded",
        "luaha.repl ", "the interactive loop", "help()", "print(...)" }) do
        assert(text:find(want, 1, true), "help() does not say " .. want .. ":\n" .. text)
    end
    assert(not text:find("ctl commands", 1, true), "ctl commands in a session without them:\n" .. text)
    assert(not text:find("detach", 1, true), "detach in a session without it:\n" .. text)
    for line in text:gmatch("[^\n]+") do assert(#line <= 100, "a line over 100 columns: " .. line) end
    -- with the ctl commands and the helpers of an attached session
    local ctl = require "luaha.ctl"
    ctl.register("repl_test", function() return true end, "repl_test WHAT")
    env.ctl, env.detach, env.io = {}, print, io
    text = repl.help(env)
    ctl.commands.repl_test = nil
    for _, want in ipairs({ "ctl commands", "ctl.repl_test", "repl_test WHAT", "ctl.NAME(arg, ...)",
        "detach(f, ...)", "io.write(...)", "luaha.ctl " }) do
        assert(text:find(want, 1, true), "help() does not say " .. want .. ":\n" .. text)
    end
end)

test("repl-multiline", function()
    local out, err, prompts, history = session({
        "function double(a)", "", "  return a * 2", "end", "double(21)",
        "{ 1,", "  2 }",
        "for i = 1, 2 do", "  print(i)", "end",
    })
    eq(out, "42\n{ 1, 2 }\n1\n2\n", "output")
    eq(err, "", "errors")
    eq(prompts, "> |>> |>> |>> |> |> |>> |> |>> |>> |> ", "prompts")
    eq(history, "function double(a)|  return a * 2|end|double(21)|{ 1,|  2 }|for i = 1, 2 do|  print(i)|end",
        "history")
end)

test("repl-errors", function()
    local out, err = session({ "error('boom')", "1", "1 +* 2", "2", "error({})", "3", "function f()" })
    eq(out, "1\n2\n3\n", "output goes on after errors")
    assert(err:find("^stdin:1: boom\nstack traceback:\n\t%[C%]: in function 'error'\n\tstdin:1: in main chunk\n"),
        "runtime error with traceback: " .. err)
    assert(not err:find("repl.lua", 1, true), "REPL frames left in the traceback: " .. err)
    assert(err:find("\nstdin:1: unexpected symbol near '1'\n", 1, true), "syntax error: " .. err)
    assert(err:find("(error object is a table value)", 1, true), "error object: " .. err)
    assert(err:find("'end' expected near <eof>\n$"), "incomplete chunk at end of input: " .. err)
end)

test("repl-env", function()
    local out, err = session({ "repl_test_x = 5", "repl_test_x", "string.rep('a', 2)", "luaha == require 'luaha'" })
    eq(out, '5\naa\ntrue\n', "output")
    eq(err, "", "errors")
    eq(rawget(_G, "repl_test_x"), nil, "global leaked into _G")
    local env = { answer = 42 }
    out = session({ "answer", "y = 1" }, { env = env })
    eq(out, "42\n", "output with opts.env")
    eq(env.y, 1, "assignment in opts.env")
    checkerr("unknown option", repl.run, { bogus = true })
    checkerr("must be a function", repl.run, { read = "stdin" })
    checkerr("unknown option", repl.run, { read = function() end, pretty = { deep = 1 } })
    out = session({ "{ a = { b = {} } }" }, { pretty = { depth = 1 } })
    eq(out, "{ a = {...} }\n", "output with opts.pretty")
end)

test("repl-sleep-lets-tasks-run", function()
    local probe = { ran = false }
    luaha.spawn(function()
        luaha.sleep(0.05)
        probe.ran = true
    end)
    local env = setmetatable({ probe = probe, luaha = luaha }, { __index = _G })
    local t0 = luaha.now()
    local out, err = session({ "probe.ran", "luaha.sleep(0.2)", "probe.ran" }, { env = env })
    eq(out, "false\ntrue\n", "the other task ran while the REPL slept")
    eq(err, "", "errors")
    assert(luaha.now() - t0 >= 0.15, "did not sleep")
end)

test("repl-read-may-wait", function()
    local ticks, lines, out = 0, { "ticks > 0", "ticks_seen" }, {}
    local ticker = luaha.spawn(function()
        while true do
            ticks = ticks + 1
            luaha.sleep(0.01)
        end
    end)
    local i = 0
    repl.run({
        read = function()
            luaha.sleep(0.05)
            i = i + 1
            return lines[i]
        end,
        write = function(s) out[#out + 1] = s end,
        env = setmetatable({ ticks_seen = true }, { __index = function(_, k)
            if k == "ticks" then return ticks end
        end }),
    })
    ticker:cancel()
    eq(table.concat(out), "true\ntrue\n", "output")
end)

test("repl-budget", function()
    -- Each line runs in a task of its own: the runaway one is stopped, the REPL goes on.
    local out, err = session({ "luaha.set_budget(100000)", "while true do end", "1 + 1",
        "local n = 0 for i = 1, 5000 do n = n + i end return n", "luaha.set_budget(10000000)" })
    eq(out, "10000000\n2\n12502500\n100000\n", "output")
    assert(err:find("exceeded its budget", 1, true), "no budget error: " .. err)
end)

luaha.exit(harness.failures() == 0 and 0 or 1)
