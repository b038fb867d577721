/*
 * win32_module.c -- LoadLibraryA, GetModuleHandleA, GetProcAddress and
 * FreeLibrary over dlopen, so that an HMODULE is a dlopen handle: what
 * SetThreadpoolCallbackLibrary and FreeLibraryWhenCallbackReturns take
 * (SPEC 5, 10).
 *
 * Names: Windows code names its modules "x.dll" and finds them next to the
 * program; so a name that dlopen cannot find as given is tried ending in
 * ".so" instead of ".dll", and, without a '/', in the program's directory.
 */
#include "win32_internal.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* dlopen(name) with the fallbacks above; flags RTLD_NOLOAD to only look. */
static void *
open_module(const char *name, int flags)
{
    void *h = dlopen(name, flags);
    if (h)
        return h;
    char alt[PATH_MAX];
    size_t len = strlen(name);
    const char *base = name;
    if (len > 4 && strcasecmp(name + len - 4, ".dll") == 0 &&
        len < sizeof alt) {
        memcpy(alt, name, len - 4);
        memcpy(alt + len - 4, ".so", 4);
        if ((h = dlopen(alt, flags)) != NULL)
            return h;
        base = alt;
    }
    if (strchr(name, '/') == NULL) {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
            exe[n] = '\0';
            char *slash = strrchr(exe, '/');
            if (slash)
                slash[1] = '\0';
            char path[PATH_MAX * 2];
            for (int i = 0; i < 2 && !h; i++) {
                snprintf(path, sizeof path, "%s%s", exe, i ? base : name);
                h = dlopen(path, flags);
            }
        }
    }
    return h;
}

HMODULE
LoadLibraryA(LPCSTR name)
{
    if (name == NULL || *name == '\0') {
        ntp__win32_set_error(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    void *h = open_module(name, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL)
        ntp__win32_set_error(ERROR_MOD_NOT_FOUND);
    return h;
}

HMODULE
GetModuleHandleA(LPCSTR name)
{
    void *h = name == NULL ? dlopen(NULL, RTLD_NOW)
                           : open_module(name, RTLD_NOW | RTLD_NOLOAD);
    if (h == NULL) {
        ntp__win32_set_error(ERROR_MOD_NOT_FOUND);
        return NULL;
    }
    /* GetModuleHandle takes no reference: give back the one dlopen took.
     * The module stays loaded by whoever loaded it, so h stays valid. */
    (void)dlclose(h);
    return h;
}

FARPROC
GetProcAddress(HMODULE h, LPCSTR name)
{
    if (h == NULL || name == NULL || (uintptr_t)name < 0x10000u) {
        /* Ordinals (names below 64 Ki) do not exist here. */
        ntp__win32_set_error(h == NULL ? ERROR_INVALID_HANDLE
                                       : ERROR_PROC_NOT_FOUND);
        return NULL;
    }
    (void)dlerror();
    void *p = dlsym(h, name);
    if (p == NULL) {
        ntp__win32_set_error(ERROR_PROC_NOT_FOUND);
        return NULL;
    }
    FARPROC f;
    memcpy(&f, &p, sizeof f); /* POSIX: object and function pointers agree */
    return f;
}

BOOL
FreeLibrary(HMODULE h)
{
    if (h == NULL || dlclose(h) != 0) {
        ntp__win32_set_error(ERROR_INVALID_HANDLE);
        return FALSE;
    }
    return TRUE;
}
