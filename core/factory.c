/* SPDX-License-Identifier: MIT */
/* Factory start/stop counting (Twisted's Factory.doStart/doStop). */
#include <coil/protocol.h>

void coil_factory_do_start(coil_factory *f)
{
    if (f->num_ports++ == 0 && f->ops->start_factory)
        f->ops->start_factory(f);
}

void coil_factory_do_stop(coil_factory *f)
{
    if (f->num_ports == 0)
        return;
    if (--f->num_ports == 0 && f->ops->stop_factory)
        f->ops->stop_factory(f);
}
