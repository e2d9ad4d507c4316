/*
 * bus.c - ZeroMQ PUB/SUB sockets carrying topic + payload messages.
 *
 * Each bus owns its ZeroMQ context: a process holds one or two buses, and a
 * context of its own keeps every bus independent of the others' lifetime.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "bus.h"
#include "daemon.h"

#define DEFAULT_LINGER_MS 1000
#define MAX_BOUND_FILES 4

/* An ipc:// socket file this bus bound: removed at close (ZeroMQ leaves it),
 * unless another process has bound the path since (another inode). */
struct bound_file {
    char *path;
    dev_t dev;
    ino_t ino;
};

struct fs_bus {
    void *ctx;
    void *sock;
    int kind; /* ZMQ_PUB or ZMQ_SUB */
    zmq_msg_t payload; /* the last message received */
    uint64_t malformed;
    struct bound_file bound[MAX_BOUND_FILES];
    size_t nbound;
    char err[256];
};

__attribute__((format(printf, 2, 3)))
static int bus_fail(struct fs_bus *b, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, sizeof(b->err), fmt, ap);
    va_end(ap);
    errno = saved;
    return -1;
}

static void remember_file(struct fs_bus *b, const char *endpoint)
{
    struct bound_file *f = &b->bound[b->nbound];
    struct stat st;

    if (strncmp(endpoint, "ipc://", 6) != 0 || endpoint[6] == '@' ||
        b->nbound == MAX_BOUND_FILES || stat(endpoint + 6, &st) != 0 ||
        (f->path = strdup(endpoint + 6)) == NULL)
        return;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    b->nbound++;
}

static void remove_files(struct fs_bus *b)
{
    for (size_t i = 0; i < b->nbound; i++) {
        struct bound_file *f = &b->bound[i];
        struct stat st;

        if (stat(f->path, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino)
            unlink(f->path);
        free(f->path);
    }
    b->nbound = 0;
}

int fs_bus_attach(struct fs_bus *b, const char *endpoint)
{
    bool bind = b->kind == ZMQ_PUB;

    if (endpoint[0] == '@' || endpoint[0] == '>') {
        bind = endpoint[0] == '@';
        endpoint++;
    }
    /* Binding an ipc:// path needs its directory (never an abstract socket's). */
    if (bind && fs_daemon_prepare_endpoint(endpoint, NULL) < 0)
        return bus_fail(b, "cannot create the directory of %s: %s", endpoint, strerror(errno));
    if ((bind ? zmq_bind(b->sock, endpoint) : zmq_connect(b->sock, endpoint)) != 0)
        return bus_fail(b, "cannot %s %s: %s", bind ? "bind" : "connect to", endpoint,
                        zmq_strerror(errno));
    if (bind)
        remember_file(b, endpoint);
    return 0;
}

int fs_bus_subscribe(struct fs_bus *b, const char *topic)
{
    if (b->kind != ZMQ_SUB) {
        errno = EINVAL;
        return bus_fail(b, "subscribe on a publishing bus");
    }
    if (zmq_setsockopt(b->sock, ZMQ_SUBSCRIBE, topic ? topic : "",
                       topic ? strlen(topic) : 0) != 0)
        return bus_fail(b, "cannot subscribe to \"%s\": %s", topic ? topic : "",
                        zmq_strerror(errno));
    return 0;
}

static struct fs_bus *bus_new(int kind, int hwm, char *err, size_t errlen)
{
    struct fs_bus *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->kind = kind;
    zmq_msg_init(&b->payload);
    b->ctx = zmq_ctx_new();
    if (!b->ctx) {
        snprintf(err, errlen, "cannot create a ZeroMQ context: %s", zmq_strerror(errno));
        free(b);
        return NULL;
    }
    b->sock = zmq_socket(b->ctx, kind);
    if (!b->sock) {
        snprintf(err, errlen, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
        fs_bus_close(b, 0);
        return NULL;
    }
    int one = 1;
    if (hwm <= 0)
        hwm = FS_BUS_DEFAULT_HWM;
    if (zmq_setsockopt(b->sock, kind == ZMQ_PUB ? ZMQ_SNDHWM : ZMQ_RCVHWM, &hwm,
                       sizeof(hwm)) != 0 ||
        zmq_setsockopt(b->sock, ZMQ_IPV6, &one, sizeof(one)) != 0) {
        snprintf(err, errlen, "cannot set socket options: %s", zmq_strerror(errno));
        fs_bus_close(b, 0);
        return NULL;
    }
    return b;
}

/* Closes a half-built bus and hands its error to the caller. */
static struct fs_bus *bus_abort(struct fs_bus *b, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", b->err);
    fs_bus_close(b, 0);
    return NULL;
}

struct fs_bus *fs_bus_pub(const char *endpoint, int sndhwm, char *err, size_t errlen)
{
    struct fs_bus *b = bus_new(ZMQ_PUB, sndhwm, err, errlen);
    if (b && fs_bus_attach(b, endpoint) != 0)
        return bus_abort(b, err, errlen);
    return b;
}

struct fs_bus *fs_bus_sub(const char *const *endpoints, size_t nendpoints,
                          const char *topic, int rcvhwm, char *err, size_t errlen)
{
    struct fs_bus *b = bus_new(ZMQ_SUB, rcvhwm, err, errlen);
    if (!b)
        return NULL;
    if (fs_bus_subscribe(b, topic) != 0)
        return bus_abort(b, err, errlen);
    for (size_t i = 0; i < nendpoints; i++) {
        if (fs_bus_attach(b, endpoints[i]) != 0)
            return bus_abort(b, err, errlen);
    }
    return b;
}

int fs_bus_send(struct fs_bus *b, const char *topic, const void *buf, size_t len)
{
    size_t tlen = strlen(topic);

    if (tlen >= FS_BUS_TOPIC_MAX) {
        errno = EINVAL;
        return bus_fail(b, "topic \"%.32s...\" longer than %d bytes", topic,
                        FS_BUS_TOPIC_MAX - 1);
    }
    /* ZeroMQ delivers the parts of a message all or none, so the payload
     * cannot be refused once the topic was taken. */
    if (zmq_send(b->sock, topic, tlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(b->sock, buf, len, ZMQ_DONTWAIT) < 0)
        return bus_fail(b, "send: %s", zmq_strerror(errno));
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Receives the rest of a message that cannot be used. */
static void drain(struct fs_bus *b)
{
    while (zmq_msg_more(&b->payload)) {
        if (zmq_msg_recv(&b->payload, b->sock, ZMQ_DONTWAIT) < 0)
            break;
    }
    b->malformed++;
}

int fs_bus_recv(struct fs_bus *b, int timeout_ms, struct fs_bus_msg *out)
{
    int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;

    for (;;) {
        long wait = -1;
        if (timeout_ms >= 0) {
            int64_t left = deadline - now_ms();
            wait = left > 0 ? (long)left : 0;
        }
        zmq_pollitem_t item = {b->sock, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&item, 1, wait);
        if (rc < 0)
            return bus_fail(b, "poll: %s", zmq_strerror(errno));
        if (rc == 0)
            return 0;

        /* The topic goes through the payload message too: one zmq_msg_t
         * to manage, and it is copied out at once. */
        if (zmq_msg_recv(&b->payload, b->sock, ZMQ_DONTWAIT) < 0) {
            if (errno == EAGAIN)
                continue;
            return bus_fail(b, "receive: %s", zmq_strerror(errno));
        }
        size_t tlen = zmq_msg_size(&b->payload);
        if (!zmq_msg_more(&b->payload) || tlen >= FS_BUS_TOPIC_MAX) {
            drain(b);
            continue;
        }
        memcpy(out->topic, zmq_msg_data(&b->payload), tlen);
        out->topic[tlen] = '\0';
        if (zmq_msg_recv(&b->payload, b->sock, ZMQ_DONTWAIT) < 0)
            return bus_fail(b, "receive: %s", zmq_strerror(errno));
        if (zmq_msg_more(&b->payload)) {
            drain(b);
            continue;
        }
        out->data = zmq_msg_data(&b->payload);
        out->len = zmq_msg_size(&b->payload);
        return 1;
    }
}

uint64_t fs_bus_malformed(const struct fs_bus *b)
{
    return b->malformed;
}

const char *fs_bus_error(const struct fs_bus *b)
{
    return b->err;
}

void fs_bus_close(struct fs_bus *b, int linger_ms)
{
    if (!b)
        return;
    zmq_msg_close(&b->payload);
    if (b->sock) {
        if (linger_ms < 0)
            linger_ms = DEFAULT_LINGER_MS;
        zmq_setsockopt(b->sock, ZMQ_LINGER, &linger_ms, sizeof(linger_ms));
        zmq_close(b->sock);
    }
    while (zmq_ctx_term(b->ctx) != 0 && errno == EINTR)
        ;
    remove_files(b);
    free(b);
}
