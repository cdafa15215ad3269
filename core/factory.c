/* SPDX-License-Identifier: MIT */
/* Factory start/stop counting (Twisted's Factory.doStart/doStop), with
 * Twisted's "Starting factory ..." / "Stopping factory ..." log lines. */
#include <coil/log.h>
#include <coil/protocol.h>

void coil_factory_do_start(coil_factory *f)
{
    if (f->num_ports++ == 0) {
        coil_log(COIL_LOG_INFO, "coil.factory", "Starting factory <coil_factory %p>", (void *)f);
        if (f->ops->start_factory)
            f->ops->start_factory(f);
    }
}

void coil_factory_do_stop(coil_factory *f)
{
    if (f->num_ports == 0)
        return;
    if (--f->num_ports == 0) {
        coil_log(COIL_LOG_INFO, "coil.factory", "Stopping factory <coil_factory %p>", (void *)f);
        if (f->ops->stop_factory)
            f->ops->stop_factory(f);
    }
}
