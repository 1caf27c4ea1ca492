#ifndef EPMD_H
#define EPMD_H

#include <stdbool.h>

typedef struct {
    int port;
    const char *bind;
    const char *port_file;
    int expire_ms;
    int max_conns;              //  TCP connections in all
    int max_per_address;        //  ... from one address
    int max_local;              //  connections on the local (ipc) endpoint
    bool tcp_register;          //  old nodes may register over TCP loopback
} epmd_config_t;

//  Serves until SIGTERM/SIGINT; returns the exit status.
int epmd_run (const epmd_config_t *config, int sigfd);

#endif
