/* SPDX-License-Identifier: MIT */
/* One HTTP/1.x connection of the static file server (see conn.c). */
#ifndef COILD_WEB_CONN_H
#define COILD_WEB_CONN_H

#include "server.h"

/* A protocol for a new connection, or NULL (out of memory). */
coil_protocol *web_conn_new(web_server *s);

#endif
