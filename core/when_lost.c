/* SPDX-License-Identifier: MIT */
/* coil_protocol_when_lost: a Deferred for the end of a connection. */
#include <errno.h>
#include <stdlib.h>

#include <coil/error.h>
#include <coil/net_deferred.h>
#include <coil/util.h>

/* The protocol's ops point at `ops`, a copy of its own table whose
 * connection_lost is lost_hook(); `ops` is first, so the table pointer
 * leads back here. */
struct when_lost {
    coil_protocol_ops ops;
    const coil_protocol_ops *orig;
    coil_deferred *d; /* one reference, dropped once fired */
};

static void lost_hook(coil_protocol *p, int reason)
{
    struct when_lost *w = (struct when_lost *)(void *)p->ops;
    p->ops = w->orig;
    if (w->orig->connection_lost)
        w->orig->connection_lost(p, reason); /* may free p */
    if (reason == 0)
        coil_deferred_callback(w->d, coil_result_none());
    else
        coil_deferred_errback(w->d, coil_connection_lost_failure(reason));
    coil_deferred_unref(w->d);
    free(w);
}

coil_deferred *coil_protocol_when_lost(coil_protocol *p)
{
    if (!p || !p->transport || !p->ops)
        return NULL;
    if (p->ops->connection_lost == lost_hook)
        return coil_deferred_ref(((struct when_lost *)(void *)p->ops)->d);
    struct when_lost *w = malloc(sizeof(*w));
    coil_deferred *d = w ? coil_deferred_new(NULL, NULL) : NULL;
    if (!d) {
        free(w);
        return NULL;
    }
    w->ops = *p->ops;
    w->ops.connection_lost = lost_hook;
    w->orig = p->ops;
    w->d = coil_deferred_ref(d);
    p->ops = &w->ops;
    return d;
}

coil_result coil_result_when_lost(coil_result connected, void *arg)
{
    (void)arg;
    coil_protocol *p = coil_result_ptr(connected);
    if (!p)
        return connected;
    coil_deferred *d = coil_protocol_when_lost(p);
    int err = p->transport ? -ENOMEM : -ENOTCONN;
    coil_result_release(connected); /* the protocol is coil's: no destructor */
    if (!d)
        return coil_result_failure(
            coil_failure_new(COIL_NET_DOMAIN, err, "%s", coil_strerror(err)));
    return coil_result_deferred(d);
}
