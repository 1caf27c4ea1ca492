#ifndef EPMD_H
#define EPMD_H

typedef struct {
    int port;
    const char *bind;
    const char *port_file;
    int expire_ms;
} epmd_config_t;

//  Serves until SIGTERM/SIGINT; returns the exit status.
int epmd_run (const epmd_config_t *config, int sigfd);

#endif
