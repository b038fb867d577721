/*
 * instance.c -- SPEC 10: the callback instance, CallbackMayRunLong,
 * DisassociateCurrentThreadFromCallback and the completion actions.
 */
#include "conformance.h"

static HANDLE g_event, g_sem, g_mutex;
static CRITICAL_SECTION g_cs;
static LONG volatile g_seen_set, g_mrl, g_other;

static VOID CALLBACK
event_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)ctx, (void)w;
    SetEventWhenCallbackReturns(i, g_event);
    Sleep(50);
    /* Not yet: the action runs after we return. */
    g_seen_set = WaitForSingleObject(g_event, 0) == WAIT_OBJECT_0;
}

static HANDLE g_event2;

static VOID CALLBACK
twice_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)ctx, (void)w;
    SetEventWhenCallbackReturns(i, g_event);
    SetEventWhenCallbackReturns(i, g_event2); /* one of a kind: ignored */
}

static VOID CALLBACK
sem_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)ctx, (void)w;
    ReleaseSemaphoreWhenCallbackReturns(i, g_sem, 3);
}

static VOID CALLBACK
mutex_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)ctx, (void)w;
    WaitForSingleObject(g_mutex, INFINITE);
    ReleaseMutexWhenCallbackReturns(i, g_mutex);
}

static VOID CALLBACK
cs_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)ctx, (void)w;
    EnterCriticalSection(&g_cs);
    LeaveCriticalSectionWhenCallbackReturns(i, &g_cs);
}

static VOID CALLBACK
all_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)ctx, (void)w;
    EnterCriticalSection(&g_cs);
    WaitForSingleObject(g_mutex, INFINITE);
    LeaveCriticalSectionWhenCallbackReturns(i, &g_cs);
    ReleaseMutexWhenCallbackReturns(i, g_mutex);
    ReleaseSemaphoreWhenCallbackReturns(i, g_sem, 1);
    SetEventWhenCallbackReturns(i, g_event);
}

static DWORD WINAPI
take_mutex(LPVOID arg)
{
    (void)arg;
    DWORD r = WaitForSingleObject(g_mutex, 5000);
    if (r == WAIT_OBJECT_0)
        ReleaseMutex(g_mutex);
    return r;
}

static DWORD WINAPI
try_cs(LPVOID arg)
{
    (void)arg;
    if (!TryEnterCriticalSection(&g_cs))
        return 0;
    LeaveCriticalSection(&g_cs);
    return 1;
}

static VOID CALLBACK
mrl_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)w;
    g_mrl = CallbackMayRunLong(i) ? 1 : 2;
    if (ctx) /* wait (bounded) for another callback to run meanwhile */
        conf_wait_count(&g_other, 1, 3000);
}

static VOID CALLBACK
other_simple(PTP_CALLBACK_INSTANCE i, PVOID ctx)
{
    (void)i, (void)ctx;
    InterlockedIncrement(&g_other);
}

typedef int (*value_fn)(void);
static value_fn g_value_fn;
static LONG volatile g_value;

static VOID CALLBACK
module_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)w;
    HMODULE m = LoadLibraryA((const char *)ctx);
    if (m) {
        FARPROC p = GetProcAddress(m, "ntp_testmod_value");
        if (p)
            g_value = ((value_fn)(void *)p)();
        FreeLibraryWhenCallbackReturns(i, m);
    }
}

static VOID CALLBACK
library_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)i, (void)ctx, (void)w;
    g_value = g_value_fn(); /* the pool keeps the module loaded */
}

static void
module_checks(TP_CALLBACK_ENVIRON *env)
{
    const char *S10 = "SPEC 10";
    const char *what_free = "FreeLibraryWhenCallbackReturns: a module loaded "
                            "by the callback alone is unloaded after it "
                            "returns (CONFORMANCE D40)";
    const char *what_lib = "SetThreadpoolCallbackLibrary keeps the module "
                           "loaded while the object's callbacks can run, "
                           "then lets it go (SPEC 5)";
    if (conf_module_path == NULL) {
        conf_skip(S10, "[doc]", what_free, "no module given");
        conf_skip("SPEC 5", "[doc]", what_lib, "no module given");
        return;
    }
    g_value = 0;
    PTP_WORK w = CreateThreadpoolWork(module_work, (PVOID)conf_module_path,
                                      env);
    SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CloseThreadpoolWork(w);
    CHECK(S10, "[doc]", what_free,
          g_value == 42 && GetModuleHandleA(conf_module_path) == NULL);

    HMODULE m = LoadLibraryA(conf_module_path);
    g_value = 0;
    g_value_fn = m ? (value_fn)(void *)GetProcAddress(m, "ntp_testmod_value")
                   : NULL;
    TP_CALLBACK_ENVIRON lenv = *env;
    SetThreadpoolCallbackLibrary(&lenv, m);
    w = CreateThreadpoolWork(library_work, NULL, &lenv);
    FreeLibrary(m); /* the object holds the module from here */
    BOOL still = GetModuleHandleA(conf_module_path) != NULL;
    SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CloseThreadpoolWork(w);
    Sleep(100);
    CHECK("SPEC 5", "[doc]", what_lib,
          m && still && g_value == 42 &&
              GetModuleHandleA(conf_module_path) == NULL);
}

void
conf_instance(void)
{
    const char *S10 = "SPEC 10";
    PTP_POOL pool = conf_pool(0, 4);
    TP_CALLBACK_ENVIRON env;
    conf_env(&env, pool);

    g_event = CreateEvent(NULL, TRUE, FALSE, NULL);
    PTP_WORK w = CreateThreadpoolWork(event_work, NULL, &env);
    SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CHECK(S10, "[doc]", "SetEventWhenCallbackReturns: not set while the "
                        "callback runs, set when WaitFor...Callbacks returns "
                        "(CONFORMANCE D36, D45)",
          !g_seen_set && WaitForSingleObject(g_event, 0) == WAIT_OBJECT_0);
    CloseThreadpoolWork(w);

    ResetEvent(g_event);
    g_event2 = CreateEvent(NULL, TRUE, FALSE, NULL);
    w = CreateThreadpoolWork(twice_work, NULL, &env);
    SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CHECK(S10, "[wine]", "a second action of the same kind is ignored: the "
                         "first event is set, the second is not "
                         "(CONFORMANCE D43)",
          WaitForSingleObject(g_event, 0) == WAIT_OBJECT_0 &&
              WaitForSingleObject(g_event2, 0) == WAIT_TIMEOUT);
    CloseThreadpoolWork(w);
    CloseHandle(g_event2);

    g_sem = CreateSemaphore(NULL, 0, 10, NULL);
    w = CreateThreadpoolWork(sem_work, NULL, &env);
    SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    int takes = 0;
    while (takes < 5 && WaitForSingleObject(g_sem, 0) == WAIT_OBJECT_0)
        takes++;
    CHECK_EQ(S10, "[obs]", "ReleaseSemaphoreWhenCallbackReturns(3): exactly 3 "
                           "takes, then a timeout (CONFORMANCE D37)",
             takes, 3);
    CloseThreadpoolWork(w);

    g_mutex = CreateMutex(NULL, FALSE, NULL);
    w = CreateThreadpoolWork(mutex_work, NULL, &env);
    SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    HANDLE t = CreateThread(NULL, 0, take_mutex, NULL, 0, NULL);
    WaitForSingleObject(t, 10000);
    DWORD code = 0;
    GetExitCodeThread(t, &code);
    CloseHandle(t);
    CHECK_EQ(S10, "[doc]", "ReleaseMutexWhenCallbackReturns releases it from "
                           "the worker: another thread gets WAIT_OBJECT_0, "
                           "not abandoned (CONFORMANCE D38)",
             code, WAIT_OBJECT_0);
    CloseThreadpoolWork(w);

    InitializeCriticalSection(&g_cs);
    w = CreateThreadpoolWork(cs_work, NULL, &env);
    SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    t = CreateThread(NULL, 0, try_cs, NULL, 0, NULL);
    WaitForSingleObject(t, 10000);
    GetExitCodeThread(t, &code);
    CloseHandle(t);
    CHECK_EQ(S10, "[doc]", "LeaveCriticalSectionWhenCallbackReturns leaves "
                           "the section the callback entered (CONFORMANCE "
                           "D39)",
             code, 1);
    CloseThreadpoolWork(w);

    ResetEvent(g_event);
    w = CreateThreadpoolWork(all_work, NULL, &env);
    SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    t = CreateThread(NULL, 0, try_cs, NULL, 0, NULL);
    WaitForSingleObject(t, 10000);
    GetExitCodeThread(t, &code);
    CloseHandle(t);
    HANDLE t2 = CreateThread(NULL, 0, take_mutex, NULL, 0, NULL);
    WaitForSingleObject(t2, 10000);
    DWORD mcode = 1;
    GetExitCodeThread(t2, &mcode);
    CloseHandle(t2);
    CHECK(S10, "[doc]", "one callback can register four actions (critical "
                        "section, mutex, semaphore, event) and all take "
                        "effect (CONFORMANCE D41)",
          code == 1 && mcode == WAIT_OBJECT_0 &&
              WaitForSingleObject(g_sem, 0) == WAIT_OBJECT_0 &&
              WaitForSingleObject(g_event, 0) == WAIT_OBJECT_0);
    CloseThreadpoolWork(w);
    CloseThreadpool(pool);

    /* CallbackMayRunLong. */
    pool = conf_pool(1, 1);
    conf_env(&env, pool);
    g_mrl = 0;
    w = CreateThreadpoolWork(mrl_work, NULL, &env);
    SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CHECK_EQ(S10, "[obs]", "CallbackMayRunLong on a pool at its maximum of "
                           "one thread returns FALSE (CONFORMANCE E47)",
             g_mrl, 2);
    CloseThreadpoolWork(w);
    CloseThreadpool(pool);

    pool = conf_pool(1, 4);
    conf_env(&env, pool);
    g_mrl = 0;
    InterlockedExchange(&g_other, 0);
    w = CreateThreadpoolWork(mrl_work, (PVOID)1, &env);
    SubmitThreadpoolWork(w);
    Sleep(50);
    TrySubmitThreadpoolCallback(other_simple, NULL, &env);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CHECK(S10, "[doc]", "CallbackMayRunLong on a pool that can grow returns "
                        "TRUE, and another callback runs meanwhile "
                        "(CONFORMANCE E48)",
          g_mrl == 1 && conf_get(&g_other) == 1);
    CloseThreadpoolWork(w);

    module_checks(&env);
    CloseThreadpool(pool);
    CloseHandle(g_event);
    CloseHandle(g_sem);
    CloseHandle(g_mutex);
    DeleteCriticalSection(&g_cs);
}
