/*
 * replay.c - the replay protocol of replay.h: a ROUTER in the analyzer that
 * answers from the journal, a DEALER in the reporter that asks.
 *
 * Requests and reply headers are small flat maps of unsigned integers after
 * the usual envelope, read here with a bounded cursor of their own (msg.c's
 * is private to it, and msgpack-c's unpacker allocates whatever count a
 * message claims before checking that the bytes are there). The journaled
 * messages themselves are passed on as they are, never decoded here.
 *
 * Bounds: a request frame longer than REQUEST_MAX makes ZeroMQ drop the
 * peer; a server answers at most SERVE_BURST requests per call, so a flood
 * of requests cannot starve the analyzer's flows, and queues at most
 * SRV_SNDHWM replies per client (more are dropped by ZeroMQ: the client
 * times out and asks again). A reply holds at most FS_REPLAY_MAX messages
 * and FS_REPLAY_BYTES, so its memory is bounded too.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>
#include <zmq.h>

#include "daemon.h"
#include "msg.h"
#include "replay.h"

#define REQUEST_MAX 4096
#define SERVE_BURST 16
#define SRV_SNDHWM 8
#define SRV_RCVHWM 64
/* Room for the header frame in the reply's byte budget. */
#define HEADER_ALLOWANCE 256
/* Nesting a skipped value may have. */
#define SKIP_DEPTH 32

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    errno = saved;
    return -1;
}

/* ------------------------------------------------------------------ */
/* Bounded msgpack reading: just what flat maps of strings and integers
 * need, and skipping anything else a newer peer may add. */

struct rd {
    const uint8_t *p, *end;
};

enum rd_kind { RK_UINT, RK_NEG, RK_STR, RK_BIN, RK_EXT, RK_ARRAY, RK_MAP, RK_SCALAR };

/* One object's header: its kind, an integer's value, or the length of a
 * str/bin/ext payload (which follows) or the entries of a container. */
struct rd_head {
    enum rd_kind kind;
    uint64_t v;
};

static size_t rd_left(const struct rd *r)
{
    return (size_t)(r->end - r->p);
}

static uint64_t get_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Reads a header; "truncated" and "invalid byte" are the only failures. */
static int rd_head(struct rd *r, struct rd_head *h, const char **why)
{
    size_t left = rd_left(r), width = 0, skip = 0;
    uint8_t c;

    if (left == 0) {
        *why = "truncated";
        return -1;
    }
    c = *r->p;
    if (c <= 0x7f) {
        *h = (struct rd_head){ RK_UINT, c };
    } else if (c >= 0xe0) {
        *h = (struct rd_head){ RK_NEG, 0 };
    } else if (c <= 0x8f) {
        *h = (struct rd_head){ RK_MAP, c & 0x0fu };
    } else if (c <= 0x9f) {
        *h = (struct rd_head){ RK_ARRAY, c & 0x0fu };
    } else if (c <= 0xbf) {
        *h = (struct rd_head){ RK_STR, c & 0x1fu };
    } else {
        h->v = 0;
        switch (c) {
        case 0xc0: case 0xc2: case 0xc3:
            h->kind = RK_SCALAR;
            break;
        case 0xca: h->kind = RK_SCALAR; skip = 4; break;
        case 0xcb: h->kind = RK_SCALAR; skip = 8; break;
        case 0xcc: case 0xcd: case 0xce: case 0xcf:
            h->kind = RK_UINT;
            width = (size_t)1 << (c - 0xcc);
            break;
        case 0xd0: case 0xd1: case 0xd2: case 0xd3:
            h->kind = RK_NEG; /* told apart from non-negative below */
            width = (size_t)1 << (c - 0xd0);
            break;
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: /* fixext: type + data */
            h->kind = RK_SCALAR;
            skip = 1 + ((size_t)1 << (c - 0xd4));
            break;
        case 0xc4: case 0xc5: case 0xc6:
            h->kind = RK_BIN;
            width = (size_t)1 << (c - 0xc4);
            break;
        case 0xd9: case 0xda: case 0xdb:
            h->kind = RK_STR;
            width = (size_t)1 << (c - 0xd9);
            break;
        case 0xc7: case 0xc8: case 0xc9: /* ext: length, then a type byte */
            h->kind = RK_EXT;
            width = (size_t)1 << (c - 0xc7);
            skip = 1;
            break;
        case 0xdc: case 0xdd:
            h->kind = RK_ARRAY;
            width = c == 0xdc ? 2 : 4;
            break;
        case 0xde: case 0xdf:
            h->kind = RK_MAP;
            width = c == 0xde ? 2 : 4;
            break;
        default:
            *why = "not msgpack (byte 0xc1)";
            return -1;
        }
        if (left < 1 + width + skip) {
            *why = "truncated";
            return -1;
        }
        if (width)
            h->v = get_be(r->p + 1, width);
        if (c >= 0xd0 && c <= 0xd3) {
            /* A signed form holding a non-negative value is an integer too. */
            if (!(h->v >> (width * 8 - 1) & 1))
                h->kind = RK_UINT;
        }
        r->p += width + skip;
    }
    r->p++;
    if ((h->kind == RK_STR || h->kind == RK_BIN || h->kind == RK_EXT) && h->v > rd_left(r)) {
        *why = "truncated";
        return -1;
    }
    /* Every entry takes a byte at least: a count the bytes cannot hold is a lie. */
    if ((h->kind == RK_ARRAY || h->kind == RK_MAP) &&
        h->v * (h->kind == RK_MAP ? 2 : 1) > rd_left(r)) {
        *why = "truncated";
        return -1;
    }
    return 0;
}

/* Passes over one object of any kind, nested at most `depth` deep. */
static int rd_skip(struct rd *r, int depth, const char **why)
{
    struct rd_head h;

    if (rd_head(r, &h, why) != 0)
        return -1;
    switch (h.kind) {
    case RK_STR: case RK_BIN: case RK_EXT:
        r->p += h.v;
        return 0;
    case RK_ARRAY: case RK_MAP:
        if (depth == 0) {
            *why = "nested too deep";
            return -1;
        }
        for (uint64_t i = 0; i < h.v * (h.kind == RK_MAP ? 2 : 1); i++)
            if (rd_skip(r, depth - 1, why) != 0)
                return -1;
        return 0;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ */
/* Envelope + unsigned integer fields: requests and reply headers. */

struct field {
    const char *name;
    uint64_t v;
    bool seen;
};

static bool key_is(const uint8_t *k, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(k, lit, n) == 0;
}

/*
 * Decodes a map {type, v, sender, seq, fields...}. The keys of `f` and the
 * envelope are required, others skipped. Returns 0, or -1 with the reason.
 */
static int decode_map(const void *buf, size_t len, const char *type,
                      char sender[FS_MSG_SENDER_MAX], uint64_t *seq, struct field *f, size_t nf,
                      char *err, size_t errlen)
{
    struct rd r = { buf, (const uint8_t *)buf + len };
    struct rd_head h;
    const char *why = NULL;
    const uint8_t *type_s = NULL, *sender_s = NULL;
    size_t type_n = 0, sender_n = 0;
    struct field env[2] = { { "v", 0, false }, { "seq", 0, false } };

    if (len == 0)
        return fail(err, errlen, "empty message");
    if (rd_head(&r, &h, &why) != 0)
        return fail(err, errlen, "%s", why);
    if (h.kind != RK_MAP)
        return fail(err, errlen, "not a map");
    for (uint64_t i = 0; i < h.v; i++) {
        struct rd_head k, v;
        const uint8_t *key = r.p;
        struct field *target = NULL;

        if (rd_head(&r, &k, &why) != 0)
            return fail(err, errlen, "%s", why);
        if (k.kind != RK_STR) {
            r.p = key; /* not a key of ours: skip it whole, and its value */
            if (rd_skip(&r, SKIP_DEPTH, &why) != 0 || rd_skip(&r, SKIP_DEPTH, &why) != 0)
                return fail(err, errlen, "%s", why);
            continue;
        }
        key = r.p;
        r.p += k.v;
        if (key_is(key, k.v, "type") || key_is(key, k.v, "sender")) {
            bool is_type = key[0] == 't';
            if (rd_head(&r, &v, &why) != 0)
                return fail(err, errlen, "%s", why);
            if (v.kind != RK_STR)
                return fail(err, errlen, "\"%s\" is not a string", is_type ? "type" : "sender");
            if (is_type) {
                type_s = r.p;
                type_n = v.v;
            } else {
                sender_s = r.p;
                sender_n = v.v;
            }
            r.p += v.v;
            continue;
        }
        for (size_t j = 0; j < 2 && !target; j++)
            if (key_is(key, k.v, env[j].name))
                target = &env[j];
        for (size_t j = 0; j < nf && !target; j++)
            if (key_is(key, k.v, f[j].name))
                target = &f[j];
        if (target == NULL) {
            if (rd_skip(&r, SKIP_DEPTH, &why) != 0)
                return fail(err, errlen, "%s", why);
            continue;
        }
        if (rd_head(&r, &v, &why) != 0)
            return fail(err, errlen, "%s", why);
        if (v.kind != RK_UINT)
            return fail(err, errlen, "\"%s\" is not an unsigned integer", target->name);
        if (target->seen)
            return fail(err, errlen, "duplicate key \"%s\"", target->name);
        target->v = v.v;
        target->seen = true;
    }
    if (r.p != r.end)
        return fail(err, errlen, "%zu bytes after the end of the message", rd_left(&r));
    if (!env[0].seen)
        return fail(err, errlen, "missing \"v\" (schema version)");
    if (env[0].v != FS_MSG_VERSION)
        return fail(err, errlen, "schema version %llu not supported (this build reads %d)",
                    (unsigned long long)env[0].v, FS_MSG_VERSION);
    if (type_s == NULL)
        return fail(err, errlen, "missing \"type\"");
    if (!key_is(type_s, type_n, type))
        return fail(err, errlen, "type \"%.*s\" where \"%s\" was expected",
                    (int)(type_n < 32 ? type_n : 32), (const char *)type_s, type);
    if (sender_s == NULL || sender_n == 0 || sender_n >= FS_MSG_SENDER_MAX ||
        memchr(sender_s, '\0', sender_n) != NULL)
        return fail(err, errlen, "\"sender\" is missing, empty, longer than %d bytes or holds "
                    "a NUL", FS_MSG_SENDER_MAX - 1);
    if (!env[1].seen)
        return fail(err, errlen, "missing \"seq\"");
    for (size_t j = 0; j < nf; j++)
        if (!f[j].seen)
            return fail(err, errlen, "missing \"%s\"", f[j].name);
    memcpy(sender, sender_s, sender_n);
    sender[sender_n] = '\0';
    *seq = env[1].v;
    return 0;
}

static int pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, s, n);
}

/* Writes {type, v, sender, seq, fields...} into `sb` (cleared first).
 * Returns 0, or -1 when out of memory. */
static int encode_map(msgpack_sbuffer *sb, const char *type, const char *sender, uint64_t seq,
                      const struct field *f, size_t nf)
{
    msgpack_packer pk;
    int rc = 0;

    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    rc |= msgpack_pack_map(&pk, (uint32_t)(4 + nf));
    rc |= pack_cstr(&pk, "type");
    rc |= pack_cstr(&pk, type);
    rc |= pack_cstr(&pk, "v");
    rc |= msgpack_pack_unsigned_int(&pk, FS_MSG_VERSION);
    rc |= pack_cstr(&pk, "sender");
    rc |= pack_cstr(&pk, sender);
    rc |= pack_cstr(&pk, "seq");
    rc |= msgpack_pack_uint64(&pk, seq);
    for (size_t i = 0; i < nf; i++) {
        rc |= pack_cstr(&pk, f[i].name);
        rc |= msgpack_pack_uint64(&pk, f[i].v);
    }
    return rc != 0 ? -1 : 0;
}

/* Request and reply bodies, in the order they are written. */
enum { RQ_JOURNAL, RQ_FROM, RQ_MAX, RQ_COUNT };
enum { RP_RE, RP_JOURNAL, RP_FIRST, RP_NEXT, RP_N, RP_COUNT };

static void request_fields(struct field f[RQ_COUNT])
{
    f[RQ_JOURNAL] = (struct field){ "journal", 0, false };
    f[RQ_FROM] = (struct field){ "from", 0, false };
    f[RQ_MAX] = (struct field){ "max", 0, false };
}

static void reply_fields(struct field f[RP_COUNT])
{
    f[RP_RE] = (struct field){ "re", 0, false };
    f[RP_JOURNAL] = (struct field){ "journal", 0, false };
    f[RP_FIRST] = (struct field){ "first", 0, false };
    f[RP_NEXT] = (struct field){ "next", 0, false };
    f[RP_N] = (struct field){ "n", 0, false };
}

/* ------------------------------------------------------------------ */
/* Sockets. */

static bool sender_ok(const char *sender)
{
    size_t n = sender ? strlen(sender) : 0;
    return n > 0 && n < FS_MSG_SENDER_MAX;
}

/* A socket of `type` with integer options `opts` ({name, value} pairs,
 * `nopts` of them) and the largest frame it takes in, bound or connected to
 * `endpoint` ('@' bind, '>' connect, else `bind`). Returns 0, or -1 with
 * `err` (the caller closes what was made). */
static int sock_open(void **ctx, void **sock, int type, const int (*opts)[2], size_t nopts,
                     int64_t maxmsgsize, const char *endpoint, bool bind, char *err,
                     size_t errlen)
{
    *ctx = zmq_ctx_new();
    if (*ctx == NULL)
        return fail(err, errlen, "cannot create a ZeroMQ context: %s", zmq_strerror(errno));
    *sock = zmq_socket(*ctx, type);
    if (*sock == NULL)
        return fail(err, errlen, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
    for (size_t i = 0; i < nopts; i++)
        if (zmq_setsockopt(*sock, opts[i][0], &opts[i][1], sizeof(int)) != 0)
            return fail(err, errlen, "cannot set socket options: %s", zmq_strerror(errno));
    if (zmq_setsockopt(*sock, ZMQ_MAXMSGSIZE, &maxmsgsize, sizeof(maxmsgsize)) != 0)
        return fail(err, errlen, "cannot set socket options: %s", zmq_strerror(errno));
    if (endpoint[0] == '@' || endpoint[0] == '>') {
        bind = endpoint[0] == '@';
        endpoint++;
    }
    if (bind && fs_daemon_prepare_endpoint(endpoint, NULL) != 0)
        return fail(err, errlen, "cannot create the directory of %s: %s", endpoint,
                    strerror(errno));
    if ((bind ? zmq_bind(*sock, endpoint) : zmq_connect(*sock, endpoint)) != 0)
        return fail(err, errlen, "cannot %s %s: %s", bind ? "bind" : "connect to", endpoint,
                    zmq_strerror(errno));
    return 0;
}

static void sock_close(void *ctx, void *sock)
{
    if (sock != NULL) {
        int zero = 0;
        zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_close(sock);
    }
    if (ctx != NULL)
        while (zmq_ctx_term(ctx) != 0 && errno == EINTR)
            ;
}

/* Receives and drops the rest of a multipart message. */
static void drain(void *sock, zmq_msg_t *m)
{
    while (zmq_msg_more(m))
        if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) < 0)
            break;
}

/* ------------------------------------------------------------------ */
/* Server. */

struct fs_replay_srv {
    void *ctx, *sock;
    char sender[FS_MSG_SENDER_MAX];
    uint64_t seq;              /* of the next reply */
    msgpack_sbuffer out;
    zmq_msg_t *recs;           /* FS_REPLAY_MAX: the messages of one reply */
    struct fs_replay_srv_counters n;
    char problem[256];
};

struct fs_replay_srv *fs_replay_srv_new(const char *endpoint, const char *sender, char *err,
                                        size_t errlen)
{
    static const int opts[][2] = { { ZMQ_SNDHWM, SRV_SNDHWM }, { ZMQ_RCVHWM, SRV_RCVHWM },
                                   { ZMQ_IPV6, 1 } };
    struct fs_replay_srv *s;

    if (!sender_ok(sender)) {
        fail(err, errlen, "sender '%s' is empty or too long", sender ? sender : "");
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->recs = calloc(FS_REPLAY_MAX, sizeof(*s->recs))) == NULL) {
        free(s);
        fail(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(s->sender, sizeof(s->sender), "%s", sender);
    msgpack_sbuffer_init(&s->out);
    if (sock_open(&s->ctx, &s->sock, ZMQ_ROUTER, opts, sizeof(opts) / sizeof(opts[0]),
                  REQUEST_MAX, endpoint, true, err, errlen) != 0) {
        fs_replay_srv_free(s);
        return NULL;
    }
    return s;
}

void fs_replay_srv_free(struct fs_replay_srv *s)
{
    if (s == NULL)
        return;
    sock_close(s->ctx, s->sock);
    msgpack_sbuffer_destroy(&s->out);
    free(s->recs);
    free(s);
}

__attribute__((format(printf, 2, 3)))
static void srv_problem(struct fs_replay_srv *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->problem, sizeof(s->problem), fmt, ap);
    va_end(ap);
}

/* Reads the messages a request asks for into s->recs; returns how many. */
static size_t collect(struct fs_replay_srv *s, struct fs_dlog *j, uint64_t from, uint64_t limit)
{
    uint64_t next = fs_dlog_next(j);
    size_t n = 0, bytes = HEADER_ALLOWANCE;
    char why[256];

    /* Attempts, not messages, are bounded by `limit`: a run of damaged
     * records costs no more than a full reply. */
    for (uint64_t seq = from; seq < next && seq - from < limit; seq++) {
        const void *rec;
        size_t len;
        int rc = fs_dlog_read(j, seq, &rec, &len, why, sizeof(why));
        if (rc == 0)
            break;
        if (rc < 0) {
            /* Skipped, not retried forever: each message carries its own
             * journal sequence, so the reader sees the hole. */
            s->n.read_errors++;
            srv_problem(s, "journal record %llu: %s", (unsigned long long)seq, why);
            continue;
        }
        if (n > 0 && bytes + len > FS_REPLAY_BYTES)
            break;
        if (zmq_msg_init_size(&s->recs[n], len) != 0)
            break;
        memcpy(zmq_msg_data(&s->recs[n]), rec, len);
        bytes += len;
        n++;
    }
    return n;
}

/* Answers one decoded request; `id` is the client's routing frame. */
static void answer(struct fs_replay_srv *s, struct fs_dlog *j, zmq_msg_t *id, uint64_t re,
                   const struct field q[RQ_COUNT])
{
    struct field f[RP_COUNT];
    zmq_msg_t hdr;
    uint64_t first = fs_dlog_first(j), from = q[RQ_FROM].v;
    uint64_t limit = q[RQ_MAX].v < FS_REPLAY_MAX ? q[RQ_MAX].v : FS_REPLAY_MAX;
    size_t n;

    /* Another journal than the one asked about, or records already
     * trimmed: the oldest held is where the reader must start again. */
    if ((q[RQ_JOURNAL].v != 0 && q[RQ_JOURNAL].v != fs_dlog_id(j)) || from < first)
        from = first;
    n = collect(s, j, from, limit);
    reply_fields(f);
    f[RP_RE].v = re;
    f[RP_JOURNAL].v = fs_dlog_id(j);
    f[RP_FIRST].v = first;
    f[RP_NEXT].v = fs_dlog_next(j);
    f[RP_N].v = n;
    if (encode_map(&s->out, "replayed", s->sender, s->seq, f, RP_COUNT) != 0 ||
        zmq_msg_init_size(&hdr, s->out.size) != 0) {
        srv_problem(s, "reply to request %llu: out of memory", (unsigned long long)re);
    } else {
        memcpy(zmq_msg_data(&hdr), s->out.data, s->out.size);
        /* ROUTER sockets never block: a reply to a peer gone or too slow
         * is dropped by ZeroMQ, and that client asks again. */
        if (zmq_msg_send(id, s->sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
            zmq_msg_send(&hdr, s->sock, (n ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) >= 0) {
            for (size_t i = 0; i < n; i++)
                zmq_msg_send(&s->recs[i], s->sock, (i + 1 < n ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
        }
        zmq_msg_close(&hdr);
        s->seq++;
        s->n.requests++;
        s->n.messages += n;
    }
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&s->recs[i]);
}

int fs_replay_srv_serve(struct fs_replay_srv *s, struct fs_dlog *journal, char *err,
                        size_t errlen)
{
    int answered = 0;

    for (int i = 0; i < SERVE_BURST; i++) {
        zmq_msg_t id, req;
        struct field q[RQ_COUNT];
        char sender[FS_MSG_SENDER_MAX], why[160];
        uint64_t seq;

        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, s->sock, ZMQ_DONTWAIT) < 0) {
            int e = errno;
            zmq_msg_close(&id);
            if (e == EAGAIN || e == EINTR)
                break;
            errno = e;
            return fail(err, errlen, "replay socket: %s", zmq_strerror(e));
        }
        zmq_msg_init(&req);
        if (!zmq_msg_more(&id) || zmq_msg_recv(&req, s->sock, ZMQ_DONTWAIT) < 0) {
            s->n.bad_requests++;
            srv_problem(s, "request without a body");
        } else if (zmq_msg_more(&req)) {
            drain(s->sock, &req);
            s->n.bad_requests++;
            srv_problem(s, "request of more than one frame");
        } else {
            request_fields(q);
            if (decode_map(zmq_msg_data(&req), zmq_msg_size(&req), "replay", sender, &seq, q,
                           RQ_COUNT, why, sizeof(why)) != 0) {
                s->n.bad_requests++;
                srv_problem(s, "bad request: %s", why);
            } else {
                answer(s, journal, &id, seq, q);
                answered++;
            }
        }
        zmq_msg_close(&req);
        zmq_msg_close(&id);
    }
    return answered;
}

const struct fs_replay_srv_counters *fs_replay_srv_counters(const struct fs_replay_srv *s)
{
    return &s->n;
}

const char *fs_replay_srv_problem(const struct fs_replay_srv *s)
{
    return s->problem;
}

/* ------------------------------------------------------------------ */
/* Client. */

struct fs_replay_cli {
    void *ctx, *sock;
    char sender[FS_MSG_SENDER_MAX];
    uint64_t seq;              /* of the next request */
    uint64_t stale;
    msgpack_sbuffer out;
    zmq_msg_t *frames;         /* FS_REPLAY_MAX: the messages of one reply */
};

struct fs_replay_cli *fs_replay_cli_new(const char *endpoint, const char *sender, char *err,
                                        size_t errlen)
{
    /* IMMEDIATE: a request waits for a connection instead of piling up in
     * a queue while the analyzer is away, to be answered many times over
     * when it returns. */
    static const int opts[][2] = { { ZMQ_IMMEDIATE, 1 }, { ZMQ_IPV6, 1 } };
    struct fs_replay_cli *c;

    if (!sender_ok(sender)) {
        fail(err, errlen, "sender '%s' is empty or too long", sender ? sender : "");
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL || (c->frames = calloc(FS_REPLAY_MAX, sizeof(*c->frames))) == NULL) {
        free(c);
        fail(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(c->sender, sizeof(c->sender), "%s", sender);
    msgpack_sbuffer_init(&c->out);
    if (sock_open(&c->ctx, &c->sock, ZMQ_DEALER, opts, sizeof(opts) / sizeof(opts[0]),
                  (int64_t)FS_DLOG_RECORD_MAX + HEADER_ALLOWANCE, endpoint, false, err,
                  errlen) != 0) {
        fs_replay_cli_free(c);
        return NULL;
    }
    return c;
}

void fs_replay_cli_free(struct fs_replay_cli *c)
{
    if (c == NULL)
        return;
    sock_close(c->ctx, c->sock);
    msgpack_sbuffer_destroy(&c->out);
    free(c->frames);
    free(c);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` on the socket until `deadline` (-1: none). Returns 1
 * when ready, 0 at the deadline, -1 on error (errno). */
static int wait_for(void *sock, short events, long long deadline)
{
    zmq_pollitem_t item = { sock, 0, events, 0 };
    long wait = -1;

    if (deadline >= 0) {
        long long left = deadline - mono_ms();
        wait = left > 0 ? (long)left : 0;
    }
    return zmq_poll(&item, 1, wait);
}

/* Receives the messages after a reply's header; returns how many, or -1
 * when more than FS_REPLAY_MAX came (the rest is drained). */
static long recv_body(struct fs_replay_cli *c, zmq_msg_t *hdr)
{
    long n = 0;

    if (!zmq_msg_more(hdr))
        return 0;
    for (;;) {
        if (n == FS_REPLAY_MAX) {
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            zmq_msg_recv(&extra, c->sock, ZMQ_DONTWAIT);
            drain(c->sock, &extra);
            zmq_msg_close(&extra);
            return -1;
        }
        zmq_msg_init(&c->frames[n]);
        /* The parts of a message arrive together: none is waited for. */
        if (zmq_msg_recv(&c->frames[n], c->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&c->frames[n]);
            return n;
        }
        n++;
        if (!zmq_msg_more(&c->frames[n - 1]))
            return n;
    }
}

int fs_replay_fetch(struct fs_replay_cli *c, uint64_t journal_id, uint64_t from, uint32_t max,
                    int timeout_ms, fs_replay_fn fn, void *arg, struct fs_replay_info *info,
                    char *err, size_t errlen)
{
    long long deadline = timeout_ms >= 0 ? mono_ms() + timeout_ms : -1;
    uint64_t seq = c->seq++;
    struct field q[RQ_COUNT];
    int rc;

    request_fields(q);
    q[RQ_JOURNAL].v = journal_id;
    q[RQ_FROM].v = from;
    q[RQ_MAX].v = max;
    if (encode_map(&c->out, "replay", c->sender, seq, q, RQ_COUNT) != 0)
        return fail(err, errlen, "replay request: out of memory");
    rc = wait_for(c->sock, ZMQ_POLLOUT, deadline);
    if (rc < 0)
        return fail(err, errlen, "replay socket: %s", zmq_strerror(errno));
    if (rc == 0)
        return 0; /* not connected */
    if (zmq_send(c->sock, c->out.data, c->out.size, ZMQ_DONTWAIT) < 0)
        return errno == EAGAIN ? 0 : fail(err, errlen, "replay send: %s", zmq_strerror(errno));

    for (;;) {
        zmq_msg_t hdr;
        struct field f[RP_COUNT];
        char sender[FS_MSG_SENDER_MAX], why[160];
        uint64_t re;
        long n;

        rc = wait_for(c->sock, ZMQ_POLLIN, deadline);
        if (rc < 0)
            return fail(err, errlen, "replay socket: %s", zmq_strerror(errno));
        if (rc == 0)
            return 0;
        zmq_msg_init(&hdr);
        if (zmq_msg_recv(&hdr, c->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&hdr);
            if (errno == EAGAIN)
                continue;
            return fail(err, errlen, "replay receive: %s", zmq_strerror(errno));
        }
        reply_fields(f);
        if (decode_map(zmq_msg_data(&hdr), zmq_msg_size(&hdr), "replayed", sender, &re, f,
                       RP_COUNT, why, sizeof(why)) != 0) {
            drain(c->sock, &hdr);
            zmq_msg_close(&hdr);
            return fail(err, errlen, "malformed replay reply: %s", why);
        }
        if (f[RP_RE].v != seq) {
            drain(c->sock, &hdr);
            zmq_msg_close(&hdr);
            c->stale++;
            continue;
        }
        n = recv_body(c, &hdr);
        zmq_msg_close(&hdr);
        if (n < 0 || (uint64_t)n != f[RP_N].v) {
            for (long i = 0; i < n; i++)
                zmq_msg_close(&c->frames[i]);
            if (n < 0)
                return fail(err, errlen, "malformed replay reply: more than %d messages",
                            FS_REPLAY_MAX);
            return fail(err, errlen, "malformed replay reply: %ld messages, the header "
                        "says %llu", n, (unsigned long long)f[RP_N].v);
        }
        for (long i = 0; i < n; i++) {
            if (fn != NULL)
                fn(arg, zmq_msg_data(&c->frames[i]), zmq_msg_size(&c->frames[i]));
            zmq_msg_close(&c->frames[i]);
        }
        if (info != NULL) {
            info->journal_id = f[RP_JOURNAL].v;
            info->first = f[RP_FIRST].v;
            info->next = f[RP_NEXT].v;
            info->n = (size_t)n;
        }
        return 1;
    }
}

uint64_t fs_replay_cli_stale(const struct fs_replay_cli *c)
{
    return c->stale;
}
