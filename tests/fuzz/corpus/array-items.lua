-- found by tests/fuzz/lvscf.lua (seed 777): an array item is an option table's index, not an option
return {
    serial_no = 1, 18,
    virtuals = { { name = "v", address = "192.0.2.1", device = "eth0", 80,
        servers = { { name = "s", address = "192.0.2.2", 1 } } } },
}
