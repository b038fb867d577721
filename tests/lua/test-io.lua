local ntpool = require "ntpool"
local win32 = require "ntpool.win32"
local H = require "helper"

local function tmpfile_with(content)
  local path = os.tmpname()
  local f = assert(io.open(path, "w+b"))
  f:write(content)
  f:flush()
  return f, path
end

describe("io", function()
  after_each(function() collectgarbage() end)

  it("io read and write a regular file", function()
    local f, path = tmpfile_with("hello world")
    local results = {}
    local pool <close> = ntpool.pool{max = 2}
    local o <close> = pool:io(f, function(inst, obj, result, msg, errname)
      results[#results + 1] = {result, errname}
    end)
    assert.truthy(o:read(5, 6))
    o:wait()
    assert.are.same({"world"}, results[1])
    assert.truthy(o:write("HELLO", 0))
    o:wait()
    assert.are.equal(5, results[2][1])
    assert.are.equal("integer", math.type(results[2][1]))
    assert.truthy(o:read(100, 0))
    o:wait()
    assert.are.equal("HELLO world", results[3][1])
    assert.truthy(o:read(10, 1000))
    o:wait()
    assert.are.equal("", results[4][1])     -- end of file
    o:close()
    f:close()
    os.remove(path)
  end)

  ;(H.no_subprocess and pending or it)("io on a pipe, cancelled", function()
    local p = assert(io.popen("sleep 1", "r"))
    local got
    local o = ntpool.io(p, function(inst, obj, result, msg, errname)
      got = {result, errname}
    end)
    assert.truthy(o:read(10))
    assert.is_true(o:cancel())
    assert.truthy(H.wait_until(function() return got ~= nil end))
    assert.is_nil(got[1])
    assert.are.equal("ECANCELED", got[2])
    o:wait()
    o:close()
    assert.has_error(function() o:read(1) end, "operation on closed ntpool.io")
    p:close()
  end)

  it("io operations report through ov:result too", function()
    local f, path = tmpfile_with("0123456789")
    local pool <close> = ntpool.pool{max = 2}
    local calls = 0
    local o <close> = pool:io(f, function() calls = calls + 1 end)
    local rd = assert(o:read(4, 3))
    assert.truthy(tostring(rd):find("^ntpool.overlapped %(read"))
    local n, data = rd:result(true)    -- GetOverlappedResult(..., TRUE)
    assert.are.equal(4, n)
    assert.are.equal("integer", math.type(n))
    assert.are.equal("3456", data)
    local wr = assert(o:write("ab", 0))
    o:wait()
    assert.are.equal(2, calls)
    -- After the callback the result is still there, once for all.
    assert.are.same({2}, {wr:result(false)})
    assert.are.same({4, "3456"}, {rd:result(false)})
    -- Released with its userdata, never twice.
    rd = nil
    collectgarbage(); collectgarbage()
    o:close()
    assert.are.same({2}, {wr:result(true)})
    f:close()
    os.remove(path)
  end)

  ;(H.no_subprocess and pending or it)("ov:result: EBUSY while under way, "
                                       .. "and after a dropped completion",
                                       function()
    local p = assert(io.popen("sleep 0.3; printf xyz", "r"))
    local calls = 0
    local o = ntpool.io(p, function() calls = calls + 1 end)
    local ov = assert(o:read(3))
    local ok, msg, name = ov:result(false)
    assert.is_nil(ok)
    assert.are.equal("EBUSY", name)
    assert.truthy(msg:match("^EBUSY: "))
    o:wait(true)                       -- drops the completion to come
    assert.are.same({3, "xyz"}, {ov:result(true)})
    assert.are.equal(0, calls)
    o:close()
    p:close()
  end)

  it("io bad arguments", function()
    assert.has_error(function() ntpool.io("x", function() end) end)
    local ok, msg, name = ntpool.io(987654, function() end)
    assert.is_nil(ok)
    assert.are.equal("EBADF", name)
  end)

  it("win32 CreateThreadpoolIo, ReadFile, GetOverlappedResult", function()
    local f, path = tmpfile_with("abcdef")
    local got = {}
    local io_obj = win32.CreateThreadpoolIo(f, function(inst, ctx, ov, res, n, io)
      got[#got + 1] = {ctx, ov, ov.data, res, n, io}
    end, "ctx", nil)
    win32.StartThreadpoolIo(io_obj)
    local ov = win32.OVERLAPPED(2)
    -- On the file it was bound to, as on Windows.
    assert.are.same({win32.ERROR_IO_PENDING}, {win32.ReadFile(f, 3, ov)})
    win32.WaitForThreadpoolIoCallbacks(io_obj, false)
    assert.are.same({{"ctx", ov, "cde", win32.NO_ERROR, 3, io_obj}}, got)
    assert.are.equal(3, win32.GetOverlappedResult(f, ov, false))
    local wov = win32.OVERLAPPED(0)
    assert.are.same({win32.ERROR_IO_PENDING, 0},
                    {win32.WriteFile(io_obj, "XY", wov)})
    assert.are.equal(2, win32.GetOverlappedResult(io_obj, wov, true))
    win32.WaitForThreadpoolIoCallbacks(io_obj, false)
    assert.are.equal(2, got[2][5])
    assert.are.same({false, win32.ERROR_NOT_FOUND}, {win32.CancelIo(f)})
    assert.has_error(function() win32.ReadFile(f, 1, {}) end,
                     "bad argument #3 to 'ReadFile' (OVERLAPPED expected)")
    win32.CloseThreadpoolIo(io_obj)
    assert.has_error(function() win32.ReadFile(io.stdin, 1, ov) end)
    f:close()
    os.remove(path)
  end)

  ;(H.no_subprocess and pending or it)("win32 CancelIoEx of one operation",
                                       function()
    local p = assert(io.popen("sleep 1", "r"))
    local res
    local io_obj = win32.CreateThreadpoolIo(p, function(inst, ctx, ov, r)
      res = r
    end, nil, nil)
    local ov = win32.OVERLAPPED()
    local event = win32.CreateEvent(nil, true, false, nil)
    ov.event = event
    win32.ReadFile(p, 10, ov)
    assert.are.same({false, win32.ERROR_IO_INCOMPLETE},
                    {win32.GetOverlappedResult(p, ov, false)})
    assert.are.equal(win32.ERROR_IO_INCOMPLETE, win32.GetLastError())
    assert.is_true(win32.CancelIoEx(p, ov))
    assert.are.equal(win32.WAIT_OBJECT_0,
                     win32.WaitForSingleObject(event, 10000))
    assert.are.equal(win32.ERROR_OPERATION_ABORTED, res)
    win32.WaitForThreadpoolIoCallbacks(io_obj, false)
    win32.CloseThreadpoolIo(io_obj)
    p:close()
  end)
end)
