/*
 * io.c -- SPEC 9: thread-pool I/O objects, with files (CreateFileA with
 * FILE_FLAG_OVERLAPPED) and pipes (a named pipe on Windows; pipe(2) ends
 * wrapped by NtpHandleFromFd here).
 */
#include "conformance.h"

static LONG volatile g_calls;
static ULONG volatile g_result;
static ULONG_PTR volatile g_bytes;
static PVOID volatile g_ov, g_ctx;
static PTP_IO volatile g_io;

static VOID CALLBACK
on_io(PTP_CALLBACK_INSTANCE i, PVOID ctx, PVOID ov, ULONG result,
      ULONG_PTR bytes, PTP_IO io)
{
    (void)i;
    g_ctx = ctx;
    g_ov = ov;
    g_result = result;
    g_bytes = bytes;
    g_io = io;
    InterlockedIncrement(&g_calls);
}

static void
reset(void)
{
    InterlockedExchange(&g_calls, 0);
    g_result = 12345;
    g_bytes = 0;
    g_ov = NULL;
}

/* TRUE if an overlapped ReadFile/WriteFile started: TRUE at once, or
 * FALSE with ERROR_IO_PENDING. */
static BOOL
started(BOOL r)
{
    return r || GetLastError() == ERROR_IO_PENDING;
}

static BOOL
make_pipe(HANDLE *rd, HANDLE *wr)
{
#ifdef _WIN32
    static LONG volatile n;
    char name[80];
    snprintf(name, sizeof name, "\\\\.\\pipe\\ntpool-conformance-%u-%u",
             (unsigned)GetCurrentProcessId(),
             (unsigned)InterlockedIncrement(&n));
    *rd = CreateNamedPipeA(name, PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED,
                           PIPE_TYPE_BYTE | PIPE_WAIT, 1, 4096, 4096, 0,
                           NULL);
    *wr = CreateFileA(name, GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
#else
    int fds[2];
    if (pipe(fds) != 0)
        return FALSE;
    *rd = NtpHandleFromFd(fds[0], FILE_FLAG_OVERLAPPED);
    *wr = NtpHandleFromFd(fds[1], 0);
    close(fds[0]); /* the HANDLEs own duplicates */
    close(fds[1]);
#endif
    return *rd != INVALID_HANDLE_VALUE && *wr != INVALID_HANDLE_VALUE;
}

void
conf_io(void)
{
    const char *S9 = "SPEC 9";
    PTP_POOL pool = conf_pool(0, 4);
    TP_CALLBACK_ENVIRON env;
    conf_env(&env, pool);
    char dir[MAX_PATH], path[MAX_PATH];
    GetTempPathA(sizeof dir, dir);
    GetTempFileNameA(dir, "ntp", 0, path);
    HANDLE h = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                           CREATE_ALWAYS,
                           FILE_FLAG_OVERLAPPED | FILE_FLAG_DELETE_ON_CLOSE,
                           NULL);
    reset();
    PTP_IO io = CreateThreadpoolIo(h, on_io, (PVOID)0x10, &env);
    CHECK(S9, "[doc]", "CreateThreadpoolIo on a file opened with "
                       "FILE_FLAG_OVERLAPPED returns an object "
                       "(CONFORMANCE J101)",
          h != INVALID_HANDLE_VALUE && io != NULL);
    ULONGLONG t0 = conf_now_ms();
    WaitForThreadpoolIoCallbacks(io, FALSE);
    CHECK(S9, "[obs]", "WaitForThreadpoolIoCallbacks with nothing started "
                       "returns at once (CONFORMANCE J102)",
          conf_now_ms() - t0 < 500 && conf_get(&g_calls) == 0);

    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    StartThreadpoolIo(io);
    BOOL r = WriteFile(h, "hello world", 11, NULL, &ov);
    BOOL ok = started(r);
    if (!ok)
        CancelThreadpoolIo(io);
    WaitForThreadpoolIoCallbacks(io, FALSE);
    CHECK(S9, "[doc]", "StartThreadpoolIo, WriteFile: TRUE at once or FALSE "
                       "with ERROR_IO_PENDING; then one callback with "
                       "NO_ERROR, 11 bytes, the OVERLAPPED, the context and "
                       "the object (CONFORMANCE J103, J104, J107)",
          ok && conf_get(&g_calls) == 1 && g_result == NO_ERROR && g_bytes == 11 &&
              g_ov == &ov && g_ctx == (PVOID)0x10 && g_io == io);

    char buf[32] = {0};
    reset();
    memset(&ov, 0, sizeof ov);
    ov.Offset = 6;
    StartThreadpoolIo(io);
    r = ReadFile(h, buf, 5, NULL, &ov);
    ok = started(r);
    if (!ok)
        CancelThreadpoolIo(io);
    WaitForThreadpoolIoCallbacks(io, FALSE);
    CHECK(S9, "[doc]", "ReadFile at OVERLAPPED.Offset 6 reads \"world\": one "
                       "callback with NO_ERROR and 5 bytes",
          ok && conf_get(&g_calls) == 1 && g_result == NO_ERROR && g_bytes == 5 &&
              memcmp(buf, "world", 5) == 0);
    DWORD n = 0;
    CHECK(S9, "[doc]", "GetOverlappedResult then gives TRUE and 5 bytes; "
                       "HasOverlappedIoCompleted is TRUE",
          GetOverlappedResult(h, &ov, &n, FALSE) && n == 5 &&
              HasOverlappedIoCompleted(&ov));

    OVERLAPPED ov2;
    reset();
    memset(&ov, 0, sizeof ov);
    memset(&ov2, 0, sizeof ov2);
    ov2.Offset = 6;
    char buf2[8];
    StartThreadpoolIo(io);
    ok = started(ReadFile(h, buf, 5, NULL, &ov));
    StartThreadpoolIo(io);
    ok = started(ReadFile(h, buf2, 5, NULL, &ov2)) && ok;
    WaitForThreadpoolIoCallbacks(io, FALSE);
    CHECK(S9, "[obs]", "two starts and two reads give two callbacks "
                       "(CONFORMANCE J105)",
          ok && conf_get(&g_calls) == 2);

    reset();
    StartThreadpoolIo(io);
    t0 = conf_now_ms();
    WaitForThreadpoolIoCallbacks(io, TRUE);
    CHECK(S9, "[obs]", "StartThreadpoolIo with no operation, then "
                       "WaitForThreadpoolIoCallbacks(TRUE): returns at once, "
                       "no callback (CONFORMANCE J106)",
          conf_now_ms() - t0 < 500 && conf_get(&g_calls) == 0);

    reset();
    memset(&ov, 0, sizeof ov);
    ov.Offset = 1000;
    StartThreadpoolIo(io);
    r = ReadFile(h, buf, 5, NULL, &ov);
    DWORD err = GetLastError();
    BOOL eof_sync = !r && err == ERROR_HANDLE_EOF;
    if (!r && err != ERROR_IO_PENDING)
        CancelThreadpoolIo(io);
    WaitForThreadpoolIoCallbacks(io, FALSE);
    CHECK(S9, "[doc]", "a read past the end of the file reports "
                       "ERROR_HANDLE_EOF (at once, or in its callback)",
          eof_sync ? conf_get(&g_calls) == 0
                   : !r && conf_get(&g_calls) == 1 && g_result == ERROR_HANDLE_EOF &&
                         g_bytes == 0);

    /* An operation refused at once: a write-only handle cannot read. */
    char path2[MAX_PATH];
    GetTempFileNameA(dir, "ntp", 0, path2);
    HANDLE wo = CreateFileA(path2, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS,
                            FILE_FLAG_OVERLAPPED | FILE_FLAG_DELETE_ON_CLOSE,
                            NULL);
    PTP_IO io2 = CreateThreadpoolIo(wo, on_io, NULL, &env);
    reset();
    memset(&ov, 0, sizeof ov);
    StartThreadpoolIo(io2);
    r = ReadFile(wo, buf, 5, NULL, &ov);
    err = GetLastError();
    if (!r && err != ERROR_IO_PENDING)
        CancelThreadpoolIo(io2);
    t0 = conf_now_ms();
    WaitForThreadpoolIoCallbacks(io2, FALSE);
    Sleep(50);
    CHECK(S9, "[obs]", "a ReadFile that fails at once (no read access: "
                       "ERROR_ACCESS_DENIED) plus CancelThreadpoolIo: the "
                       "wait returns, no callback (CONFORMANCE J108)",
          !r && err == ERROR_ACCESS_DENIED && conf_get(&g_calls) == 0 &&
              conf_now_ms() - t0 < 1000);
    CHECK(S9, "[doc]", "binding a handle bound already fails with "
                       "ERROR_INVALID_PARAMETER (SPEC 14)",
          CreateThreadpoolIo(wo, on_io, NULL, &env) == NULL &&
              GetLastError() == ERROR_INVALID_PARAMETER);
    CloseHandle(wo);
    CloseThreadpoolIo(io2);

    SetLastError(0);
    CHECK(S9, "[proj]", "CreateThreadpoolIo on an invalid handle: NULL, "
                        "ERROR_INVALID_HANDLE (SPEC 14)",
          CreateThreadpoolIo(INVALID_HANDLE_VALUE, on_io, NULL, &env) ==
                  NULL &&
              GetLastError() == ERROR_INVALID_HANDLE);

    /* Pipes: operations that really wait. */
    HANDLE rd = INVALID_HANDLE_VALUE, wr = INVALID_HANDLE_VALUE;
    BOOL have_pipe = make_pipe(&rd, &wr);
    PTP_IO pio = have_pipe ? CreateThreadpoolIo(rd, on_io, NULL, &env) : NULL;
    reset();
    memset(&ov, 0, sizeof ov);
    StartThreadpoolIo(pio);
    r = ReadFile(rd, buf, 4, NULL, &ov);
    err = GetLastError();
    Sleep(50);
    BOOL pending = !r && err == ERROR_IO_PENDING && conf_get(&g_calls) == 0;
    DWORD wrote = 0;
    WriteFile(wr, "ping", 4, &wrote, NULL);
    WaitForThreadpoolIoCallbacks(pio, FALSE);
    CHECK(S9, "[doc]", "a read on an empty pipe is pending (FALSE, "
                       "ERROR_IO_PENDING); a write completes it: one callback "
                       "with 4 bytes",
          have_pipe && pending && wrote == 4 && conf_get(&g_calls) == 1 &&
              g_result == NO_ERROR && g_bytes == 4 &&
              memcmp(buf, "ping", 4) == 0);

    reset();
    memset(&ov, 0, sizeof ov);
    StartThreadpoolIo(pio);
    r = ReadFile(rd, buf, 4, NULL, &ov);
    Sleep(50);
    BOOL cancelled = CancelIoEx(rd, &ov);
    WaitForThreadpoolIoCallbacks(pio, FALSE);
    CHECK(S9, "[obs]", "CancelIoEx on a pending read: its callback comes with "
                       "ERROR_OPERATION_ABORTED and 0 bytes (CONFORMANCE "
                       "J109)",
          !r && cancelled && conf_get(&g_calls) == 1 &&
              g_result == ERROR_OPERATION_ABORTED && g_bytes == 0);
    n = 1;
    r = GetOverlappedResult(rd, &ov, &n, TRUE);
    err = GetLastError();
    CHECK(S9, "[doc]", "GetOverlappedResult on the cancelled read: FALSE, "
                       "ERROR_OPERATION_ABORTED",
          !r && err == ERROR_OPERATION_ABORTED);
    SetLastError(0);
    r = CancelIoEx(rd, &ov);
    err = GetLastError();
    CHECK(S9, "[doc]", "CancelIoEx with nothing pending: FALSE, "
                       "ERROR_NOT_FOUND",
          !r && err == ERROR_NOT_FOUND);

    reset();
    memset(&ov, 0, sizeof ov);
    StartThreadpoolIo(pio);
    r = ReadFile(rd, buf, 4, NULL, &ov);
    Sleep(50);
    CloseHandle(wr);
    WaitForThreadpoolIoCallbacks(pio, FALSE);
    conf_report(S9, "[doc]", !r && conf_get(&g_calls) == 1 &&
                                 g_result == ERROR_BROKEN_PIPE,
                "closing the pipe's write end completes a pending read with "
                "ERROR_BROKEN_PIPE",
                "ReadFile %d, %d callbacks, IoResult %u", (int)r,
                (int)conf_get(&g_calls), (unsigned)g_result);

    CloseHandle(rd);
    CloseThreadpoolIo(pio);

    /* Start, then CancelThreadpoolIo, then the operation completes all the
     * same (J110). On its own pipe and object, last: what becomes of such
     * a completion afterwards is not defined (Wine hands it to the next
     * operation started on the object). */
    have_pipe = make_pipe(&rd, &wr);
    pio = have_pipe ? CreateThreadpoolIo(rd, on_io, NULL, &env) : NULL;
    reset();
    memset(&ov, 0, sizeof ov);
    StartThreadpoolIo(pio);
    r = ReadFile(rd, buf, 4, NULL, &ov);
    CancelThreadpoolIo(pio);
    WriteFile(wr, "pong", 4, &wrote, NULL);
    n = 0;
    BOOL done = GetOverlappedResult(rd, &ov, &n, TRUE);
    t0 = conf_now_ms();
    WaitForThreadpoolIoCallbacks(pio, FALSE);
    CHECK(S9, "[obs]", "Start, CancelThreadpoolIo, then the read completes "
                       "anyway: the wait returns, and no callback has run "
                       "(CONFORMANCE J110)",
          have_pipe && done && n == 4 && conf_now_ms() - t0 < 1000 &&
              conf_get(&g_calls) == 0);
#ifdef _WIN32
    /* Left open: Wine 8.0 may crash later when an object holding such a
     * completion is closed. The process ends soon enough. */
    (void)wr;
#else
    WaitForThreadpoolIoCallbacks(pio, TRUE);
    CloseHandle(wr);
    CloseHandle(rd);
    CloseThreadpoolIo(pio);
#endif

    /* Overlapped I/O without a TP_IO: hEvent and GetOverlappedResult. */
    char path3[MAX_PATH];
    GetTempFileNameA(dir, "ntp", 0, path3);
    HANDLE f3 = CreateFileA(path3, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                            CREATE_ALWAYS,
                            FILE_FLAG_OVERLAPPED | FILE_FLAG_DELETE_ON_CLOSE,
                            NULL);
    memset(&ov, 0, sizeof ov);
    ov.hEvent = CreateEvent(NULL, TRUE, FALSE, NULL);
    r = WriteFile(f3, "0123456789", 10, NULL, &ov);
    ok = started(r);
    n = 0;
    BOOL got = GetOverlappedResult(f3, &ov, &n, TRUE);
    CHECK(S9, "[doc]", "overlapped WriteFile on a handle with no TP_IO: "
                       "GetOverlappedResult(bWait TRUE) gives TRUE and 10 "
                       "bytes, hEvent is set",
          ok && got && n == 10 &&
              WaitForSingleObject(ov.hEvent, 0) == WAIT_OBJECT_0);
    CloseHandle(ov.hEvent);
    CloseHandle(f3);

    WaitForThreadpoolIoCallbacks(io, FALSE);
    CloseHandle(h);
    CloseThreadpoolIo(io);
    CHECK(S9, "[doc]", "FILE_FLAG_DELETE_ON_CLOSE: the file is gone once its "
                       "handle is closed",
          GetFileAttributesA(path) == INVALID_FILE_ATTRIBUTES);
    CloseThreadpool(pool);
}
