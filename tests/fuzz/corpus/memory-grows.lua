local t = {}
for i = 1, 1e6 do t[i] = ("x"):rep(100000) .. i end
return t
