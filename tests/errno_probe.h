/* errno_probe.h -- the errno hazard's probe (errno_probe.c), compiled
 * twice: with glibc's errno and with gort.h's. */
struct errno_probe { long migrations, stale_address, stale_value, reads; };
void errno_probe_glibc(struct errno_probe *p, int iters);
void errno_probe_gort(struct errno_probe *p, int iters);
