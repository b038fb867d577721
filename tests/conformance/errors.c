/*
 * errors.c -- SPEC 14 (errors of the pool functions) and the companions a
 * thread-pool program uses: files (CreateFileA, DeleteFileA, GetTempPathA,
 * GetTempFileNameA) and modules (LoadLibraryA, GetProcAddress).
 */
#include "conformance.h"

static VOID CALLBACK
noop_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)i, (void)ctx, (void)w;
}

void
conf_errors(void)
{
    const char *S14 = "SPEC 14";
    SetLastError(1234);
    PTP_WORK w = CreateThreadpoolWork(noop_work, NULL, NULL);
    PTP_POOL p = CreateThreadpool(NULL);
    PTP_CLEANUP_GROUP g = CreateThreadpoolCleanupGroup();
    CHECK(S14, "[obs]", "successful Create* calls leave the last error "
                        "untouched (SPEC 1.3, CONFORMANCE L144)",
          w && p && g && GetLastError() == 1234);
    CloseThreadpoolWork(w);
    CloseThreadpoolCleanupGroup(g);
    CloseThreadpool(p);

    TP_POOL_STACK_INFORMATION si;
    p = CreateThreadpool(NULL);
    SetLastError(0);
    BOOL r = QueryThreadpoolStackInformation(p, &si);
    CHECK(S14, "[doc]", "QueryThreadpoolStackInformation succeeds on a new "
                        "pool",
          r && si.StackReserve > 0);
    CloseThreadpool(p);

#ifndef _WIN32
    SetLastError(0);
    w = CreateThreadpoolWork(NULL, NULL, NULL);
    CHECK(S14, "[proj]", "CreateThreadpoolWork(NULL callback): NULL, "
                         "ERROR_INVALID_PARAMETER (ntpool only)",
          w == NULL && GetLastError() == ERROR_INVALID_PARAMETER);
    p = CreateThreadpool(NULL);
    SetLastError(0);
    r = SetThreadpoolStackInformation(p, NULL);
    CHECK(S14, "[proj]", "SetThreadpoolStackInformation(pool, NULL): FALSE, "
                         "ERROR_INVALID_PARAMETER (ntpool only)",
          !r && GetLastError() == ERROR_INVALID_PARAMETER);
    CloseThreadpool(p);
#endif

    /* Files. */
    const char *SF = "FILES";
    char dir[MAX_PATH], path[MAX_PATH];
    DWORD need = GetTempPathA(0, NULL);
    DWORD len = GetTempPathA(sizeof dir, dir);
    CHECK(SF, "[doc]", "GetTempPathA: with no buffer the size needed; then "
                       "the length, the path ending in a separator",
          need == len + 1 && len > 0 &&
              (dir[len - 1] == '\\' || dir[len - 1] == '/'));
    UINT u = GetTempFileNameA(dir, "ntp", 0, path);
    HANDLE h = CreateFileA(path, GENERIC_READ, 0, NULL, OPEN_EXISTING,
                           FILE_ATTRIBUTE_NORMAL, NULL);
    CHECK(SF, "[doc]", "GetTempFileNameA(dir, prefix, 0) creates an empty "
                       "file and returns its number",
          u != 0 && h != INVALID_HANDLE_VALUE);
    CloseHandle(h);

    SetLastError(0);
    h = CreateFileA(path, GENERIC_WRITE, 0, NULL, CREATE_NEW, 0, NULL);
    DWORD err = GetLastError();
    CHECK(SF, "[doc]", "CreateFileA(CREATE_NEW) on an existing file: "
                       "INVALID_HANDLE_VALUE, ERROR_FILE_EXISTS",
          h == INVALID_HANDLE_VALUE && err == ERROR_FILE_EXISTS);
    SetLastError(1234);
    h = CreateFileA(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
    err = GetLastError();
    CHECK(SF, "[doc]", "CreateFileA(CREATE_ALWAYS) on an existing file: "
                       "success, ERROR_ALREADY_EXISTS",
          h != INVALID_HANDLE_VALUE && err == ERROR_ALREADY_EXISTS);
    DWORD wrote = 0;
    BOOL wr = WriteFile(h, "12345", 5, &wrote, NULL);
    CHECK(SF, "[doc]", "a synchronous WriteFile writes and counts 5 bytes",
          wr && wrote == 5);
    CloseHandle(h);
    h = CreateFileA(path, GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
    char buf[8] = {0};
    DWORD got = 0, got2 = 1;
    BOOL rd = ReadFile(h, buf, sizeof buf, &got, NULL);
    BOOL rd2 = ReadFile(h, buf, sizeof buf, &got2, NULL);
    LARGE_INTEGER size;
    size.QuadPart = 0;
    GetFileSizeEx(h, &size);
    CHECK(SF, "[doc]", "a synchronous ReadFile reads 5 bytes, then at the "
                       "end of the file TRUE with 0 bytes; GetFileSizeEx 5",
          rd && got == 5 && memcmp(buf, "12345", 5) == 0 && rd2 &&
              got2 == 0 && size.QuadPart == 5);
    CloseHandle(h);
    CHECK(SF, "[doc]", "DeleteFileA deletes it", DeleteFileA(path));
    SetLastError(0);
    r = DeleteFileA(path);
    err = GetLastError();
    CHECK(SF, "[doc]", "DeleteFileA of a missing file: FALSE, "
                       "ERROR_FILE_NOT_FOUND",
          !r && err == ERROR_FILE_NOT_FOUND);
    SetLastError(0);
    h = CreateFileA(path, GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
    err = GetLastError();
    CHECK(SF, "[doc]", "CreateFileA(OPEN_EXISTING) of a missing file: "
                       "INVALID_HANDLE_VALUE, ERROR_FILE_NOT_FOUND",
          h == INVALID_HANDLE_VALUE && err == ERROR_FILE_NOT_FOUND);
    SetLastError(0);
    r = CloseHandle(NULL);
    err = GetLastError();
    CHECK(SF, "[doc]", "CloseHandle(NULL): FALSE, ERROR_INVALID_HANDLE",
          !r && err == ERROR_INVALID_HANDLE);

    /* Modules. */
    const char *SM = "MODULES";
    SetLastError(0);
    HMODULE m = LoadLibraryA("ntpool-no-such-module.dll");
    err = GetLastError();
    CHECK(SM, "[doc]", "LoadLibraryA of a missing module: NULL, "
                       "ERROR_MOD_NOT_FOUND",
          m == NULL && err == ERROR_MOD_NOT_FOUND);
    if (conf_module_path == NULL) {
        conf_skip(SM, "[doc]", "LoadLibraryA, GetProcAddress, FreeLibrary "
                               "on a real module",
                  "no module given");
    } else {
        m = LoadLibraryA(conf_module_path);
        FARPROC f = m ? GetProcAddress(m, "ntp_testmod_value") : NULL;
        int v = f ? ((int (*)(void))(void *)f)() : 0;
        SetLastError(0);
        FARPROC none = m ? GetProcAddress(m, "no_such_symbol") : NULL;
        err = GetLastError();
        BOOL loaded = GetModuleHandleA(conf_module_path) == m;
        BOOL freed = m && FreeLibrary(m);
        CHECK(SM, "[doc]", "LoadLibraryA loads the module, GetProcAddress "
                           "finds its function (missing: NULL, "
                           "ERROR_PROC_NOT_FOUND), GetModuleHandleA finds "
                           "it, FreeLibrary unloads it",
              m && v == 42 && none == NULL && err == ERROR_PROC_NOT_FOUND &&
                  loaded && freed &&
                  GetModuleHandleA(conf_module_path) == NULL);
    }
}
