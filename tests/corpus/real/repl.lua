-- One Lua chunk per input line, compiled with load() and run; prints its
-- results (or "error: ...") on one line.  The target of the real-project
-- live-patch test (tests/corpus/real/lua.sh): the parser code that the fix
-- changes runs for every line.
for line in io.lines() do
  local f, err = load(line, "=input")
  if not f then
    print("error: " .. err)
  else
    local r = table.pack(pcall(f))
    if r[1] then
      local out = {}
      for i = 2, r.n do out[#out + 1] = tostring(r[i]) end
      print(table.concat(out, " "))
    else
      print("error: " .. tostring(r[2]))
    end
  end
  io.stdout:flush()
end
