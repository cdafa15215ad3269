/* SPDX-License-Identifier: MIT */
/* coil_listen_string / coil_connect_string: a description straight to a
 * Deferred. */
#include <coil/endpoint.h>
#include <coil/error.h>
#include <coil/failure.h>
#include <coil/net_deferred.h>

static coil_deferred *bad_description(int rc, const char *err)
{
    return coil_fail(coil_failure_new(COIL_NET_DOMAIN, rc, "%s",
                                      err[0] ? err : coil_strerror(rc)));
}

coil_deferred *coil_listen_string_at(coil_reactor *r, const char *desc, coil_factory *factory,
                                     const char *file, int line, const char *func)
{
    return coil_deferred_set_call_site(coil_listen_string(r, desc, factory), file, line, func);
}

coil_deferred *coil_connect_string_at(coil_reactor *r, const char *desc, coil_factory *factory,
                                      const char *file, int line, const char *func)
{
    return coil_deferred_set_call_site(coil_connect_string(r, desc, factory), file, line, func);
}

coil_deferred *coil_listen_string(coil_reactor *r, const char *desc, coil_factory *factory)
{
    char err[256] = "";
    coil_server_endpoint *ep = NULL;
    int rc = coil_server_from_string(r, desc, &ep, err, sizeof(err));
    if (rc < 0)
        return bad_description(rc, err);
    coil_deferred *d = coil_server_endpoint_listen(ep, factory);
    coil_server_endpoint_free(ep); /* a port does not need its endpoint */
    return d;
}

coil_deferred *coil_connect_string(coil_reactor *r, const char *desc, coil_factory *factory)
{
    char err[256] = "";
    coil_client_endpoint *ep = NULL;
    int rc = coil_client_from_string(r, desc, &ep, err, sizeof(err));
    if (rc < 0)
        return bad_description(rc, err);
    coil_deferred *d = coil_client_endpoint_connect(ep, factory);
    coil_client_endpoint_free(ep); /* a pending connect holds what it needs */
    return d;
}
