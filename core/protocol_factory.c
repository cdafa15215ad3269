/* SPDX-License-Identifier: MIT */
/* coil_protocol_factory: one protocol type per factory (Twisted's
 * Factory.forProtocol). */
#include <stdlib.h>

#include <coil/protocol.h>

static coil_protocol *build(coil_factory *base, const coil_address *peer)
{
    coil_protocol_factory *f = (coil_protocol_factory *)base;
    coil_protocol *p = calloc(1, f->size);
    if (!p)
        return NULL;
    p->ops = f->ops;
    if (f->init && !f->init(p, peer, f->user)) {
        free(p);
        return NULL;
    }
    return p;
}

static const coil_factory_ops protocol_factory_ops = {.build_protocol = build};

void coil_protocol_factory_init(coil_protocol_factory *f, size_t size,
                                const coil_protocol_ops *ops, void *user)
{
    *f = (coil_protocol_factory){
        .base = {.ops = &protocol_factory_ops},
        .size = size < sizeof(coil_protocol) ? sizeof(coil_protocol) : size,
        .ops = ops,
        .user = user,
    };
}

void *coil_protocol_factory_user(const coil_protocol *p)
{
    if (!p || !p->factory || p->factory->ops != &protocol_factory_ops)
        return NULL;
    return ((const coil_protocol_factory *)p->factory)->user;
}
