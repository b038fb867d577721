/*
 * errors.c -- ntp_strerror / ntp_err_name, generated from NTP_ERRNO_MAP.
 */
#include "internal.h"

const char *
ntp_strerror(ntp_status status)
{
    switch (status) {
    case 0:
        return "success";
#define XX(name, msg)                                                        \
    case NTP_##name:                                                         \
        return msg;
        NTP_ERRNO_MAP(XX)
#undef XX
    default:
        return "unknown error";
    }
}

const char *
ntp_err_name(ntp_status status)
{
    switch (status) {
    case 0:
        return "OK";
#define XX(name, msg)                                                        \
    case NTP_##name:                                                         \
        return #name;
        NTP_ERRNO_MAP(XX)
#undef XX
    default:
        return "UNKNOWN";
    }
}
