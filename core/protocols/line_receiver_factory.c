/* SPDX-License-Identifier: MIT */
/* coil_line_receiver_factory_init: Factory.forProtocol for a LineReceiver. */
#include <coil/basic.h>
#include <coil/util.h>

/* build() has just copied f->ops into p->ops: for these factories that is
 * the line receiver's table, which the receiver's init then replaces with
 * its own protocol table. */
static bool line_receiver_made(coil_protocol *p, const coil_address *peer, void *user)
{
    (void)peer;
    (void)user;
    coil_line_receiver_init((coil_line_receiver *)p,
                            (const coil_line_receiver_ops *)(const void *)p->ops);
    return true;
}

void coil_line_receiver_factory_init(coil_protocol_factory *f, size_t size,
                                     const coil_line_receiver_ops *ops, void *user)
{
    if (size < sizeof(coil_line_receiver))
        size = sizeof(coil_line_receiver);
    coil_protocol_factory_init(f, size, (const coil_protocol_ops *)(const void *)ops, user);
    f->init = line_receiver_made;
}
