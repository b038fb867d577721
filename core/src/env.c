/*
 * env.c -- callback environments (TP_CALLBACK_ENVIRON). The setters only
 * fill the caller's struct; objects validate and copy it when they are
 * created (SPEC 5, CONFORMANCE A15).
 */
#include "object.h"

#include <string.h>

void
ntp_env_init(ntp_env *env)
{
    if (!env)
        return;
    memset(env, 0, sizeof *env);
    env->version = 3;
    env->priority = NTP_PRIORITY_NORMAL;
}

void
ntp_env_destroy(ntp_env *env)
{
    (void)env; /* nothing to free: objects copied what they needed */
}

void
ntp_env_set_pool(ntp_env *env, ntp_pool *pool)
{
    if (env)
        env->pool = pool;
}

void
ntp_env_set_cleanup_group(ntp_env *env, ntp_cleanup_group *g,
                          ntp_cleanup_cancel_cb cancel_cb)
{
    if (env) {
        env->cleanup_group = g;
        env->cancel_cb = cancel_cb;
    }
}

void
ntp_env_set_library(ntp_env *env, void *library)
{
    if (env)
        env->library = library;
}

void
ntp_env_set_priority(ntp_env *env, int priority)
{
    if (env)
        env->priority = priority; /* checked at object creation */
}

void
ntp_env_set_runs_long(ntp_env *env)
{
    if (env)
        env->flags |= NTP_ENV_RUNS_LONG;
}

void
ntp_env_set_persistent(ntp_env *env)
{
    if (env)
        env->flags |= NTP_ENV_PERSISTENT;
}

void
ntp_env_set_finalization(ntp_env *env, ntp_simple_cb cb)
{
    if (env)
        env->finalization_cb = cb;
}

ntp_status
ntp__env_validate(const ntp_env *env)
{
    if (!env)
        return 0;
    /* CONFORMANCE A10, A11: Windows 7+ rejects other versions and
     * priorities outside HIGH..LOW. */
    if (env->version != 1 && env->version != 3)
        return NTP_EINVAL;
    if (env->priority < NTP_PRIORITY_HIGH || env->priority > NTP_PRIORITY_LOW)
        return NTP_EINVAL;
    if (env->flags & ~(NTP_ENV_RUNS_LONG | NTP_ENV_PERSISTENT))
        return NTP_EINVAL;
    if (env->pool && !ntp__pool_check(env->pool))
        return NTP_EINVAL;
    if (env->cleanup_group && !ntp__group_check(env->cleanup_group))
        return NTP_EINVAL;
    return 0;
}
