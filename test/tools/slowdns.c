/*  A test shim, loaded with LD_PRELOAD: look-ups of *.slow.test take 3 s and
    fail, like a DNS server that does not answer. Everything else resolves
    as usual.                                                               */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>

int
getaddrinfo (const char *node, const char *service, const struct addrinfo *hints,
             struct addrinfo **result)
{
    static int (*real) (const char *, const char *, const struct addrinfo *,
                        struct addrinfo **);
    if (!real)
        *(void **) &real = dlsym (RTLD_NEXT, "getaddrinfo");
    size_t len = node? strlen (node): 0;
    if (len > 10 && strcmp (node + len - 10, ".slow.test") == 0) {
        sleep (3);
        return EAI_AGAIN;
    }
    return real (node, service, hints, result);
}
