/* SPDX-License-Identifier: MIT */
/* An application module whose entry point fails: coild -y must exit 1
 * with its reason, without running anything. */
#include <errno.h>

#include <coil/coil.h>

COIL_MODULE_EXPORT int coil_application_main(coil_reactor *r, coil_application *app, int argc,
                                             char **argv)
{
    coil_log(COIL_LOG_ERROR, "broken_app", "refusing to start: no configuration");
    return -ENOENT;
}
