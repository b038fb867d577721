/*
 * timer.c -- SPEC 7: thread-pool timers.
 */
#include "conformance.h"

static LONG volatile g_fires;
static LONGLONG volatile g_first_, g_last_;
#define g_first ((ULONGLONG)conf_get64(&g_first_))
#define g_last ((ULONGLONG)conf_get64(&g_last_))
static PTP_TIMER volatile g_self;
static PVOID volatile g_ctx;

static VOID CALLBACK
on_timer(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_TIMER t)
{
    (void)i;
    LONGLONG now = (LONGLONG)conf_now_ms();
    /* Everything recorded before the count that main waits for. */
    if (conf_get64(&g_first_) == 0)
        conf_set64(&g_first_, now);
    conf_set64(&g_last_, now);
    InterlockedExchangePointer((PVOID volatile *)&g_self, t);
    InterlockedExchangePointer((PVOID volatile *)&g_ctx, ctx);
    InterlockedIncrement(&g_fires);
}

static VOID CALLBACK
rearm_once(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_TIMER t)
{
    (void)i, (void)ctx;
    if (InterlockedIncrement(&g_fires) == 1) {
        FILETIME ft = conf_ft_rel(20);
        SetThreadpoolTimer(t, &ft, 0, 0);
    }
}

typedef BOOL(WINAPI *set_timer_ex_fn)(PTP_TIMER, PFILETIME, DWORD, DWORD);

static set_timer_ex_fn
find_set_timer_ex(void)
{
#ifdef _WIN32
    HMODULE k = GetModuleHandleA("kernel32.dll");
    return k ? (set_timer_ex_fn)(void *)GetProcAddress(k,
                                                       "SetThreadpoolTimerEx")
             : NULL;
#else
    return SetThreadpoolTimerEx;
#endif
}

static void
reset(void)
{
    InterlockedExchange(&g_fires, 0);
    conf_set64(&g_first_, 0);
    conf_set64(&g_last_, 0);
}

void
conf_timer(void)
{
    const char *S7 = "SPEC 7";
    PTP_POOL pool = conf_pool(0, 4);
    TP_CALLBACK_ENVIRON env;
    conf_env(&env, pool);
    reset();
    PTP_TIMER t = CreateThreadpoolTimer(on_timer, (PVOID)0x55, &env);
    CHECK(S7, "[obs]", "CreateThreadpoolTimer returns an unset timer: "
                       "IsThreadpoolTimerSet is FALSE (CONFORMANCE H66)",
          t != NULL && !IsThreadpoolTimerSet(t));

    ULONGLONG t0 = conf_now_ms();
    FILETIME ft = conf_ft_rel(200);
    SetThreadpoolTimer(t, &ft, 0, 0);
    BOOL set_now = IsThreadpoolTimerSet(t);
    conf_wait_count(&g_fires, 1, 5000);
    Sleep(300);
    CHECK(S7, "[obs]", "a one-shot timer at -200 ms fires once, not before "
                       "its due time (CONFORMANCE H67)",
          conf_get(&g_fires) == 1 && g_first - t0 >= 180);
    CHECK(S7, "[obs]", "the callback gets the context and the timer "
                       "(CONFORMANCE H78)",
          InterlockedCompareExchangePointer((PVOID volatile *)&g_self, NULL,
                                            NULL) == t &&
              InterlockedCompareExchangePointer((PVOID volatile *)&g_ctx, NULL,
                                                NULL) == (PVOID)0x55);
    CHECK(S7, "[obs]", "IsThreadpoolTimerSet is TRUE after the set and "
                       "stays TRUE after a one-shot fired (CONFORMANCE H68)",
          set_now && IsThreadpoolTimerSet(t));
    SetThreadpoolTimer(t, NULL, 0, 0);
    CHECK(S7, "[obs]", "SetThreadpoolTimer(NULL) makes it FALSE",
          !IsThreadpoolTimerSet(t));

    reset();
    t0 = conf_now_ms();
    ft.dwLowDateTime = ft.dwHighDateTime = 0;
    SetThreadpoolTimer(t, &ft, 0, 0);
    BOOL fired = conf_wait_count(&g_fires, 1, 5000);
    CHECK(S7, "[obs]", "due time 0 fires at once and the timer still counts "
                       "as set (CONFORMANCE H69)",
          fired && g_first - t0 < 1000 && IsThreadpoolTimerSet(t));

    reset();
    ft = conf_ft_abs(-5000);
    SetThreadpoolTimer(t, &ft, 0, 0);
    CHECK(S7, "[doc]", "an absolute due time in the past fires at once "
                       "(CONFORMANCE H70)",
          conf_wait_count(&g_fires, 1, 5000));

    reset();
    ft = conf_ft_rel(200);
    SetThreadpoolTimer(t, &ft, 0, 0);
    SetThreadpoolTimer(t, NULL, 0, 0);
    Sleep(400);
    CHECK_EQ(S7, "[doc]", "SetThreadpoolTimer(NULL) before the due time: no "
                          "callback (CONFORMANCE H71)",
             conf_get(&g_fires), 0);

    reset();
    t0 = conf_now_ms();
    ft = conf_ft_rel(5000);
    SetThreadpoolTimer(t, &ft, 0, 0);
    WaitForThreadpoolTimerCallbacks(t, FALSE);
    CHECK(S7, "[obs]", "WaitForThreadpoolTimerCallbacks(FALSE) on a timer "
                       "not yet due returns at once (CONFORMANCE H72)",
          conf_now_ms() - t0 < 1000 && conf_get(&g_fires) == 0);
    ft = conf_ft_rel(100);
    SetThreadpoolTimer(t, &ft, 0, 0);
    conf_wait_count(&g_fires, 1, 5000);
    Sleep(200);
    CHECK(S7, "[doc]", "setting it again replaces the setting: 5 s replaced "
                       "by 100 ms fires once at ~100 ms (CONFORMANCE H75)",
          conf_get(&g_fires) == 1 && g_first - t0 >= 80 && g_first - t0 < 3000);

    reset();
    t0 = conf_now_ms();
    ft = conf_ft_rel(100);
    SetThreadpoolTimer(t, &ft, 100, 0);
    conf_wait_count(&g_fires, 3, 5000);
    SetThreadpoolTimer(t, NULL, 0, 0);
    WaitForThreadpoolTimerCallbacks(t, TRUE);
    CHECK(S7, "[doc]", "periodic: due 100 ms, period 100 ms: 3 runs take "
                       "at least 300 ms (CONFORMANCE H73)",
          conf_get(&g_fires) >= 3 && g_last - t0 >= 280);

    reset();
    ft.dwLowDateTime = ft.dwHighDateTime = 0;
    t0 = conf_now_ms();
    SetThreadpoolTimer(t, &ft, 100, 0);
    conf_wait_count(&g_fires, 2, 5000);
    SetThreadpoolTimer(t, NULL, 0, 0);
    WaitForThreadpoolTimerCallbacks(t, TRUE);
    CHECK(S7, "[wine]", "periodic with due time 0: the first run at once, "
                        "the next a period later (CONFORMANCE H74)",
          conf_get(&g_fires) >= 2 && g_first - t0 < 1000 && g_last - g_first >= 80);

    reset();
    ft = conf_ft_rel(50);
    SetThreadpoolTimer(t, &ft, 50, 0);
    conf_wait_count(&g_fires, 2, 5000);
    CloseThreadpoolTimer(t);
    Sleep(100);
    LONG at_close = conf_get(&g_fires);
    Sleep(300);
    CHECK(S7, "[doc]", "CloseThreadpoolTimer stops a periodic timer "
                       "(CONFORMANCE H77)",
          conf_get(&g_fires) == at_close);

    reset();
    t = CreateThreadpoolTimer(rearm_once, NULL, &env);
    ft = conf_ft_rel(20);
    SetThreadpoolTimer(t, &ft, 0, 0);
    CHECK(S7, "[doc]", "a callback may re-arm its own one-shot timer "
                       "(CONFORMANCE H76)",
          conf_wait_count(&g_fires, 2, 5000));
    WaitForThreadpoolTimerCallbacks(t, FALSE);
    CloseThreadpoolTimer(t);

    reset();
    t = CreateThreadpoolTimer(on_timer, NULL, &env);
    t0 = conf_now_ms();
    ft = conf_ft_rel(100);
    SetThreadpoolTimer(t, &ft, 0, 200);
    conf_wait_count(&g_fires, 1, 5000);
    CHECK(S7, "[doc]", "a window length never makes a timer fire early "
                       "(CONFORMANCE H79)",
          conf_get(&g_fires) == 1 && g_first - t0 >= 80);

    set_timer_ex_fn set_ex = find_set_timer_ex();
    if (set_ex == NULL) {
        conf_skip(S7, "[doc]", "SetThreadpoolTimerEx reports whether it "
                               "cancelled a pending setting",
                  "not exported here, as in Wine 8.0 (CONFORMANCE H82)");
    } else {
        ft = conf_ft_rel(5000);
        BOOL was_armed_fresh = set_ex(t, &ft, 0, 0);
        BOOL was_armed = set_ex(t, NULL, 0, 0);
        CHECK(S7, "[doc]", "SetThreadpoolTimerEx reports whether it "
                           "cancelled a pending setting",
              was_armed_fresh == FALSE && was_armed == TRUE);
    }
    WaitForThreadpoolTimerCallbacks(t, TRUE);
    CloseThreadpoolTimer(t);
    CloseThreadpool(pool);
}
