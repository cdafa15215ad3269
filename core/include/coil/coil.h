/* SPDX-License-Identifier: MIT */
/* Umbrella header: #include <coil/coil.h>. */
#ifndef COIL_COIL_H
#define COIL_COIL_H

#include "address.h"
#include "basic.h"
#include "clock.h"
#include "deferred.h"
#include "endpoint.h"
#include "endpoint_desc.h"
#include "error.h"
#include "export.h"
#include "failure.h"
#include "log.h"
#include "net.h"
#include "net_deferred.h"
#include "protocol.h"
#include "proxy_protocol.h"
#include "reactor.h"
#include "resolver.h"
#include "service.h"
#include "transport.h"
#include "util.h"
#include "udp.h"
#include "version.h"
#include "application.h"
#include "logfile.h"
#include "client_service.h"
#include "stream_services.h"
#include "timer_service.h"
#include "wrap.h"

#endif
