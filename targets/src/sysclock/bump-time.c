/*
 * bump-time: moves this host's system clock (CLOCK_REALTIME) by a delta in
 * milliseconds, to the nanosecond, with clock_gettime + clock_settime.
 * temblor uploads this file and compiles it on each node (after Jepsen's
 * resources/bump-time.c, which jepsen.nemesis.time compiles the same way).
 *
 *   bump-time [--dry-run] <delta-ms>
 *
 * Prints `current <s>.<ns>` and `target <s>.<ns>`; then, with --dry-run,
 * `dry-run: the clock was not set` and stops there; otherwise sets the
 * clock and prints `now <s>.<ns>`. Exit status: 0 done, 1 cannot read the
 * clock, 2 cannot set it, 3 not permitted to set it (no CAP_SYS_TIME),
 * 64 bad arguments.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_S 1000000000L
/* Ten years: more than any clock fault wants, far from overflowing ns. */
#define MAX_DELTA_MS 315576000000LL

static int usage(const char *why) {
    fprintf(stderr, "bump-time: %s\nusage: bump-time [--dry-run] <delta-ms>\n", why);
    return 64;
}

/* A whole number of milliseconds, nothing before or after it. */
static int parse_ms(const char *s, long long *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

static void print_time(const char *label, const struct timespec *t) {
    printf("%s %lld.%09ld\n", label, (long long)t->tv_sec, (long)t->tv_nsec);
}

/* now + delta_ms, with tv_nsec kept in [0, 1e9). */
static struct timespec shifted(struct timespec now, long long delta_ms) {
    struct timespec t;
    long long sec = (long long)now.tv_sec + delta_ms / 1000;
    long long nsec = (long long)now.tv_nsec + (delta_ms % 1000) * 1000000LL;
    while (nsec < 0) {
        nsec += NS_PER_S;
        sec -= 1;
    }
    while (nsec >= NS_PER_S) {
        nsec -= NS_PER_S;
        sec += 1;
    }
    t.tv_sec = (time_t)sec;
    t.tv_nsec = (long)nsec;
    return t;
}

int main(int argc, char **argv) {
    int dry_run = 0;
    const char *delta_arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0) {
            dry_run = 1;
        } else if (delta_arg == NULL) {
            delta_arg = argv[i];
        } else {
            return usage("too many arguments");
        }
    }
    if (delta_arg == NULL) {
        return usage("no delta given");
    }
    long long delta_ms;
    if (parse_ms(delta_arg, &delta_ms) != 0) {
        fprintf(stderr, "bump-time: delta %s is not a whole number of milliseconds\n", delta_arg);
        return 64;
    }
    if (delta_ms > MAX_DELTA_MS || delta_ms < -MAX_DELTA_MS) {
        fprintf(stderr, "bump-time: delta %lld ms is out of range (at most %lld ms either way)\n",
                delta_ms, MAX_DELTA_MS);
        return 64;
    }

    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0) {
        fprintf(stderr, "bump-time: cannot read the system clock: %s\n", strerror(errno));
        return 1;
    }
    struct timespec target = shifted(now, delta_ms);
    if (target.tv_sec < 0) {
        fprintf(stderr, "bump-time: delta %lld ms would put the clock before 1970\n", delta_ms);
        return 64;
    }
    print_time("current", &now);
    print_time("target", &target);
    if (dry_run) {
        printf("dry-run: the clock was not set\n");
        return 0;
    }
    fflush(stdout);

    if (clock_settime(CLOCK_REALTIME, &target) != 0) {
        int e = errno;
        if (e == EPERM) {
            fprintf(stderr,
                    "bump-time: not permitted to set the system clock (clock_settime: %s): "
                    "it needs CAP_SYS_TIME; run it as root on a host (or in a container) "
                    "that does not drop that capability\n",
                    strerror(e));
            return 3;
        }
        fprintf(stderr, "bump-time: cannot set the system clock: clock_settime: %s\n",
                strerror(e));
        return 2;
    }
    if (clock_gettime(CLOCK_REALTIME, &now) != 0) {
        fprintf(stderr, "bump-time: clock set, but cannot read it back: %s\n", strerror(errno));
        return 1;
    }
    print_time("now", &now);
    return 0;
}
