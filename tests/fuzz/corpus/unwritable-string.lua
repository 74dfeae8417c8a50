return {
    active_cmd = "a b\"c'd",
}
