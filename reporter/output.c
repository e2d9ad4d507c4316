/*
 * output.c - one syslog destination: open it lazily, frame and send each
 * message, notice a receiver that went away, and space out reconnects.
 *
 * Every socket is non-blocking and every wait is a poll() against a deadline
 * taken from `timeout_ms`, so a receiver that stops reading can stall the
 * reporter for at most that long per call. A message is either handed over
 * whole or the connection is closed: a frame cut in the middle would
 * desynchronise the receiver's octet counting for every later message.
 *
 * Writes never raise SIGPIPE (MSG_NOSIGNAL; GNUTLS_NO_SIGNAL for TLS): a dead
 * peer is an error return, not the end of the process.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "output.h"

#define BACKOFF_MIN_MS 500
#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_BACKOFF_MAX_MS 30000
#define DEFAULT_UNIX_PATH "/dev/log"
#define CHECK_READS 8 /* bounded drain of unexpected bytes per check */

struct fs_rp_out {
    enum fs_rp_transport t;
    char *host, *port, *path, *ca_file, *cert_file, *key_file, *server_name;
    bool insecure;
    uint32_t timeout_ms, backoff_max_ms;
    char name[300];

    int fd;                       /* -1: not open */
    bool stream;                  /* UNIX: the socket turned out to be SOCK_STREAM */
    struct stat file_st;          /* FILE: what `fd` is, to notice rotation */
    gnutls_certificate_credentials_t cred;
    gnutls_session_t tls;         /* NULL unless a TLS session exists */
    bool tls_up;                  /* its handshake completed */

    unsigned failures;            /* consecutive, for the backoff */
    uint64_t retry_ms;            /* no reconnect before this (caller's clock) */
    uint64_t last_now_ms;         /* the caller's clock at the last send */

    char *buf;                    /* framing buffer (TCP, TLS, UNIX stream) */
    size_t bufcap;
    struct fs_rp_out_counters c;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int fs_rp_transport_parse(const char *s, enum fs_rp_transport *t)
{
    static const char *names[] = { "udp", "tcp", "tls", "unix", "file" };

    for (size_t i = 0; s != NULL && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i]) == 0) {
            *t = (enum fs_rp_transport)i;
            return 0;
        }
    return -1;
}

static const char *transport_name(enum fs_rp_transport t)
{
    switch (t) {
    case FS_RP_T_UDP: return "udp";
    case FS_RP_T_TCP: return "tcp";
    case FS_RP_T_TLS: return "tls";
    case FS_RP_T_UNIX: return "unix";
    case FS_RP_T_FILE: return "file";
    }
    return "?";
}

static bool is_net(enum fs_rp_transport t)
{
    return t == FS_RP_T_UDP || t == FS_RP_T_TCP || t == FS_RP_T_TLS;
}

/* Waits until `fd` is ready for `events` or the deadline passes. Returns the
 * revents, 0 at the deadline, -1 on a poll error. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = mono_ms();
        struct pollfd p = { .fd = fd, .events = events };
        int r;

        if (now >= deadline)
            return 0;
        r = poll(&p, 1, deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now));
        if (r > 0)
            return p.revents;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

static bool port_ok(const char *p)
{
    char *end;
    long v;

    if (p[0] < '0' || p[0] > '9')
        return true; /* a service name: getaddrinfo judges it */
    v = strtol(p, &end, 10);
    return *end == '\0' && v >= 1 && v <= 65535;
}

static bool is_ip_literal(const char *s)
{
    unsigned char a[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static int dupstr(char **dst, const char *s)
{
    if (s == NULL)
        return 0;
    *dst = strdup(s);
    return *dst == NULL ? -1 : 0;
}

/* GnuTLS says only "Error while reading file"; this says why. */
static int readable(const struct fs_rp_out *out, const char *what, const char *path, char *err,
                    size_t errlen)
{
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        snprintf(err, errlen, "%s: %s %s: %s", out->name, what, path, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

static int load_credentials(struct fs_rp_out *out, char *err, size_t errlen)
{
    int r;

    if ((out->ca_file != NULL && readable(out, "ca_file", out->ca_file, err, errlen) < 0) ||
        (out->cert_file != NULL &&
         (readable(out, "cert_file", out->cert_file, err, errlen) < 0 ||
          readable(out, "key_file", out->key_file, err, errlen) < 0)))
        return -1;
    if (gnutls_certificate_allocate_credentials(&out->cred) < 0) {
        snprintf(err, errlen, "%s: out of memory", out->name);
        return -1;
    }
    if (out->ca_file != NULL) {
        r = gnutls_certificate_set_x509_trust_file(out->cred, out->ca_file,
                                                   GNUTLS_X509_FMT_PEM);
        if (r <= 0) {
            snprintf(err, errlen, "%s: ca_file %s: %s", out->name, out->ca_file,
                     r < 0 ? gnutls_strerror(r) : "no PEM certificate in it");
            return -1;
        }
    } else if (!out->insecure) {
        r = gnutls_certificate_set_x509_system_trust(out->cred);
        if (r <= 0) {
            snprintf(err, errlen, "%s: no system trust store (%s); set ca_file", out->name,
                     r < 0 ? gnutls_strerror(r) : "empty");
            return -1;
        }
    }
    if (out->cert_file != NULL) {
        r = gnutls_certificate_set_x509_key_file(out->cred, out->cert_file, out->key_file,
                                                 GNUTLS_X509_FMT_PEM);
        if (r < 0) {
            snprintf(err, errlen, "%s: cert_file %s / key_file %s: %s", out->name,
                     out->cert_file, out->key_file, gnutls_strerror(r));
            return -1;
        }
    }
    return 0;
}

static int check_opts(const struct fs_rp_out_opts *o, char *err, size_t errlen)
{
    bool tls_opts = o->ca_file != NULL || o->cert_file != NULL || o->key_file != NULL ||
                    o->server_name != NULL || o->insecure;

    if ((unsigned)o->transport > FS_RP_T_FILE) {
        snprintf(err, errlen, "unknown transport %d", (int)o->transport);
        return -1;
    }
    if (is_net(o->transport)) {
        if (o->host == NULL || o->host[0] == '\0' || o->port == NULL || o->port[0] == '\0') {
            snprintf(err, errlen, "%s output needs a host and a port",
                     transport_name(o->transport));
            return -1;
        }
        if (!port_ok(o->port)) {
            snprintf(err, errlen, "%s output: bad port \"%s\"", transport_name(o->transport),
                     o->port);
            return -1;
        }
    }
    if (o->transport == FS_RP_T_FILE && (o->path == NULL || o->path[0] == '\0')) {
        snprintf(err, errlen, "file output needs a path");
        return -1;
    }
    if (o->transport == FS_RP_T_UNIX && o->path != NULL &&
        (o->path[0] == '\0' || strlen(o->path) >= sizeof(((struct sockaddr_un *)0)->sun_path))) {
        snprintf(err, errlen, "unix output: bad socket path \"%s\"", o->path);
        return -1;
    }
    /* A CA file on a plain TCP output most likely means TLS was intended:
     * refusing it beats sending alerts in clear text. */
    if (tls_opts && o->transport != FS_RP_T_TLS) {
        snprintf(err, errlen, "%s output: TLS settings (ca_file, cert_file, key_file, "
                 "server_name, insecure) apply to tls only", transport_name(o->transport));
        return -1;
    }
    if ((o->cert_file == NULL) != (o->key_file == NULL)) {
        snprintf(err, errlen, "tls output: cert_file and key_file go together");
        return -1;
    }
    return 0;
}

struct fs_rp_out *fs_rp_out_new(const struct fs_rp_out_opts *o, char *err, size_t errlen)
{
    struct fs_rp_out *out;

    if (check_opts(o, err, errlen) < 0)
        return NULL;
    out = calloc(1, sizeof(*out));
    if (out == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    out->fd = -1;
    out->t = o->transport;
    out->insecure = o->insecure;
    out->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    out->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
    if (out->backoff_max_ms < BACKOFF_MIN_MS)
        out->backoff_max_ms = BACKOFF_MIN_MS;
    if (dupstr(&out->host, o->host) < 0 || dupstr(&out->port, o->port) < 0 ||
        dupstr(&out->path, o->transport == FS_RP_T_UNIX && o->path == NULL ? DEFAULT_UNIX_PATH
                                                                    : o->path) < 0 ||
        dupstr(&out->ca_file, o->ca_file) < 0 || dupstr(&out->cert_file, o->cert_file) < 0 ||
        dupstr(&out->key_file, o->key_file) < 0 ||
        dupstr(&out->server_name, o->server_name) < 0) {
        snprintf(err, errlen, "out of memory");
        fs_rp_out_free(out);
        return NULL;
    }
    if (is_net(out->t))
        snprintf(out->name, sizeof(out->name), strchr(out->host, ':') ? "%s [%s]:%s" : "%s %s:%s",
                 transport_name(out->t), out->host, out->port);
    else
        snprintf(out->name, sizeof(out->name), "%s %s", transport_name(out->t), out->path);
    if (out->t == FS_RP_T_TLS && load_credentials(out, err, errlen) < 0) {
        fs_rp_out_free(out);
        return NULL;
    }
    return out;
}

static void close_conn(struct fs_rp_out *out)
{
    if (out->tls != NULL) {
        /* Best effort: a close_notify if the socket takes it right now. */
        if (out->tls_up)
            gnutls_bye(out->tls, GNUTLS_SHUT_WR);
        gnutls_deinit(out->tls);
        out->tls = NULL;
        out->tls_up = false;
    }
    if (out->fd >= 0)
        close(out->fd);
    out->fd = -1;
}

void fs_rp_out_free(struct fs_rp_out *out)
{
    if (out == NULL)
        return;
    close_conn(out);
    if (out->cred != NULL)
        gnutls_certificate_free_credentials(out->cred);
    free(out->host);
    free(out->port);
    free(out->path);
    free(out->ca_file);
    free(out->cert_file);
    free(out->key_file);
    free(out->server_name);
    free(out->buf);
    free(out);
}

/* A failure: close what is open and push the next attempt out. */
static void failed(struct fs_rp_out *out, uint64_t now_ms, bool was_connected)
{
    uint64_t delay = BACKOFF_MIN_MS;

    for (unsigned i = 0; i < out->failures && delay < out->backoff_max_ms; i++)
        delay *= 2;
    if (delay > out->backoff_max_ms)
        delay = out->backoff_max_ms;
    out->failures++;
    out->retry_ms = now_ms + delay;
    if (was_connected)
        out->c.disconnects++;
    close_conn(out);
}

/* Connects a non-blocking socket of `type` to `sa`, waiting until
 * `deadline`. Returns the fd, or -1 with errno set. */
static int connect_to(int family, int type, const struct sockaddr *sa, socklen_t salen,
                      uint64_t deadline)
{
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int soerr = 0;
    socklen_t sl = sizeof(soerr);

    if (fd < 0)
        return -1;
    if (connect(fd, sa, salen) == 0)
        return fd;
    /* Only TCP connects in the background; a unix stream socket whose
     * listener's backlog is full says EAGAIN and is not connecting. */
    if (errno != EINPROGRESS)
        goto fail;
    switch (wait_fd(fd, POLLOUT, deadline)) {
    case 0:
        errno = ETIMEDOUT;
        goto fail;
    case -1:
        goto fail;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
        goto fail;
    if (soerr != 0) {
        errno = soerr;
        goto fail;
    }
    return fd;
fail:
    soerr = errno;
    close(fd);
    errno = soerr;
    return -1;
}

static int open_net(struct fs_rp_out *out, uint64_t deadline, char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC }, *res, *ai;
    int r, saved = 0;

    hints.ai_socktype = out->t == FS_RP_T_UDP ? SOCK_DGRAM : SOCK_STREAM;
    r = getaddrinfo(out->host, out->port, &hints, &res);
    if (r != 0) {
        snprintf(err, errlen, "%s: cannot resolve: %s", out->name, gai_strerror(r));
        return -1;
    }
    for (ai = res; ai != NULL && out->fd < 0; ai = ai->ai_next) {
        out->fd = connect_to(ai->ai_family, ai->ai_socktype, ai->ai_addr, ai->ai_addrlen,
                             deadline);
        if (out->fd < 0)
            saved = errno;
    }
    freeaddrinfo(res);
    if (out->fd < 0) {
        snprintf(err, errlen, "%s: connect: %s", out->name, strerror(saved));
        return -1;
    }
    return 0;
}

static int open_unix(struct fs_rp_out *out, uint64_t deadline, char *err, size_t errlen)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };

    memcpy(sun.sun_path, out->path, strlen(out->path) + 1); /* length checked in new */
    out->stream = false;
    out->fd = connect_to(AF_UNIX, SOCK_DGRAM, (struct sockaddr *)&sun, sizeof(sun), deadline);
    if (out->fd < 0 && errno == EPROTOTYPE) {
        out->stream = true;
        out->fd = connect_to(AF_UNIX, SOCK_STREAM, (struct sockaddr *)&sun, sizeof(sun),
                             deadline);
    }
    if (out->fd < 0) {
        snprintf(err, errlen, "%s: connect: %s", out->name, strerror(errno));
        return -1;
    }
    return 0;
}

static int open_file(struct fs_rp_out *out, char *err, size_t errlen)
{
    out->fd = open(out->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (out->fd < 0 || fstat(out->fd, &out->file_st) < 0) {
        snprintf(err, errlen, "%s: open: %s", out->name, strerror(errno));
        close_conn(out);
        return -1;
    }
    return 0;
}

/* GnuTLS's text for a failed socket call is "Error in the pull function";
 * the errno it left says what happened. */
static const char *tls_reason(int r)
{
    if ((r == GNUTLS_E_PULL_ERROR || r == GNUTLS_E_PUSH_ERROR) && errno != 0)
        return strerror(errno);
    return gnutls_strerror(r);
}

static void tls_verify_error(struct fs_rp_out *out, const char *name, char *err, size_t errlen)
{
    unsigned status = gnutls_session_get_verify_cert_status(out->tls);
    gnutls_datum_t txt = { NULL, 0 };

    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &txt, 0) < 0)
        txt.data = NULL;
    for (size_t n = txt.data ? strlen((char *)txt.data) : 0; n > 0 && txt.data[n - 1] == ' ';)
        txt.data[--n] = '\0';
    snprintf(err, errlen, "%s: server certificate rejected for \"%s\": %s", out->name, name,
             txt.data != NULL ? (const char *)txt.data : "verification failed");
    gnutls_free(txt.data);
}

static int open_tls(struct fs_rp_out *out, uint64_t deadline, char *err, size_t errlen)
{
    const char *name = out->server_name != NULL ? out->server_name : out->host;
    int r;

    r = gnutls_init(&out->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL);
    if (r < 0) {
        out->tls = NULL;
        snprintf(err, errlen, "%s: gnutls_init: %s", out->name, gnutls_strerror(r));
        return -1;
    }
    if ((r = gnutls_set_default_priority(out->tls)) < 0 ||
        (r = gnutls_credentials_set(out->tls, GNUTLS_CRD_CERTIFICATE, out->cred)) < 0 ||
        (!is_ip_literal(name) &&
         (r = gnutls_server_name_set(out->tls, GNUTLS_NAME_DNS, name, strlen(name))) < 0)) {
        snprintf(err, errlen, "%s: TLS setup: %s", out->name, gnutls_strerror(r));
        return -1;
    }
    if (!out->insecure)
        gnutls_session_set_verify_cert(out->tls, name, 0);
    gnutls_transport_set_int(out->tls, out->fd);
    gnutls_handshake_set_timeout(out->tls, out->timeout_ms);
    for (;;) {
        r = gnutls_handshake(out->tls);
        if (r == GNUTLS_E_SUCCESS) {
            out->tls_up = true;
            return 0;
        }
        if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
            tls_verify_error(out, name, err, errlen);
            return -1;
        }
        if (gnutls_error_is_fatal(r)) {
            snprintf(err, errlen, "%s: TLS handshake: %s", out->name, tls_reason(r));
            return -1;
        }
        r = wait_fd(out->fd, gnutls_record_get_direction(out->tls) ? POLLOUT : POLLIN,
                    deadline);
        if (r <= 0) {
            snprintf(err, errlen, "%s: TLS handshake: %s", out->name,
                     r == 0 ? "timed out" : strerror(errno));
            return -1;
        }
    }
}

static int open_out(struct fs_rp_out *out, char *err, size_t errlen)
{
    uint64_t deadline = mono_ms() + out->timeout_ms;

    switch (out->t) {
    case FS_RP_T_UDP:
        return open_net(out, deadline, err, errlen);
    case FS_RP_T_TCP:
    case FS_RP_T_TLS:
        if (open_net(out, deadline, err, errlen) < 0)
            return -1;
        if (out->t == FS_RP_T_TLS && open_tls(out, deadline, err, errlen) < 0) {
            close_conn(out);
            return -1;
        }
        out->c.connects++;
        return 0;
    case FS_RP_T_UNIX:
        if (open_unix(out, deadline, err, errlen) < 0)
            return -1;
        out->c.connects++;
        return 0;
    case FS_RP_T_FILE:
        return open_file(out, err, errlen);
    }
    return -1;
}

/* Reads what a receiver sent on a connection it should only read from.
 * Returns 0 while it is up, -1 with `err` once it closed or reset it. */
static int peer_gone(struct fs_rp_out *out, char *err, size_t errlen)
{
    char tmp[512];

    for (int i = 0; i < CHECK_READS; i++) {
        struct pollfd p = { .fd = out->fd, .events = POLLIN | POLLRDHUP };
        ssize_t n;

        if ((out->tls == NULL || gnutls_record_check_pending(out->tls) == 0) &&
            poll(&p, 1, 0) <= 0)
            return 0;
        if (out->tls != NULL) {
            n = gnutls_record_recv(out->tls, tmp, sizeof(tmp));
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED ||
                (n < 0 && !gnutls_error_is_fatal((int)n)))
                return 0;
            if (n < 0) {
                snprintf(err, errlen, "%s: connection lost: %s", out->name,
                         tls_reason((int)n));
                return -1;
            }
        } else {
            n = recv(out->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
            if (n < 0) {
                snprintf(err, errlen, "%s: connection lost: %s", out->name, strerror(errno));
                return -1;
            }
        }
        if (n == 0) {
            snprintf(err, errlen, "%s: the receiver closed the connection", out->name);
            return -1;
        }
        /* Syslog receivers send nothing back: drop it and look again. */
    }
    return 0;
}

int fs_rp_out_check(struct fs_rp_out *out, char *err, size_t errlen)
{
    if (out->fd < 0 || out->t == FS_RP_T_UDP || out->t == FS_RP_T_FILE ||
        (out->t == FS_RP_T_UNIX && !out->stream))
        return 0;
    if (peer_gone(out, err, errlen) < 0) {
        failed(out, out->last_now_ms, true);
        return -1;
    }
    return 0;
}

bool fs_rp_out_connected(const struct fs_rp_out *out)
{
    return out->t == FS_RP_T_UDP || out->t == FS_RP_T_FILE || out->fd >= 0;
}

uint64_t fs_rp_out_backoff_left(const struct fs_rp_out *out, uint64_t now_ms)
{
    if (out->fd >= 0 || out->failures == 0 || now_ms >= out->retry_ms)
        return 0;
    return out->retry_ms - now_ms;
}

const char *fs_rp_out_name(const struct fs_rp_out *out) { return out->name; }

const struct fs_rp_out_counters *fs_rp_out_counters(const struct fs_rp_out *out)
{
    return &out->c;
}

/* Puts "LEN SP MSG" (octet counting) or MSG NUL (unix stream) in out->buf. */
static ssize_t frame(struct fs_rp_out *out, const char *msg, size_t len)
{
    char hdr[24] = "";
    int hl = out->t == FS_RP_T_UNIX ? 0 : snprintf(hdr, sizeof(hdr), "%zu ", len);
    size_t need = (size_t)hl + len + 1;

    if (need > out->bufcap) {
        char *nb = realloc(out->buf, need);

        if (nb == NULL)
            return -1;
        out->buf = nb;
        out->bufcap = need;
    }
    memcpy(out->buf, hdr, (size_t)hl);
    memcpy(out->buf + hl, msg, len);
    if (out->t != FS_RP_T_UNIX)
        return (ssize_t)(hl + len);
    out->buf[hl + len] = '\0';
    return (ssize_t)(len + 1);
}

/* Writes all of buf, waiting for room until the deadline. */
static int write_all(struct fs_rp_out *out, const char *buf, size_t len, char *err,
                     size_t errlen)
{
    uint64_t deadline = mono_ms() + out->timeout_ms;
    size_t off = 0;

    while (off < len) {
        ssize_t n;
        short ev = POLLOUT;
        int w;

        if (out->tls != NULL) {
            n = gnutls_record_send(out->tls, buf + off, len - off);
            if (n < 0 && n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED) {
                snprintf(err, errlen, "%s: send: %s", out->name, tls_reason((int)n));
                return -1;
            }
            if (n < 0 && !gnutls_record_get_direction(out->tls))
                ev = POLLIN;
        } else {
            n = send(out->fd, buf + off, len - off, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                snprintf(err, errlen, "%s: send: %s", out->name, strerror(errno));
                return -1;
            }
        }
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        w = wait_fd(out->fd, ev, deadline);
        if (w <= 0) {
            snprintf(err, errlen, "%s: send: %s", out->name,
                     w == 0 ? "timed out (the receiver is not reading)" : strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* One datagram: all of it or an error. */
static int send_dgram(struct fs_rp_out *out, const char *msg, size_t len, char *err,
                      size_t errlen)
{
    uint64_t deadline = mono_ms() + out->timeout_ms;

    for (;;) {
        int w;

        if (send(out->fd, msg, len, MSG_NOSIGNAL) >= 0)
            return 0;
        if (errno != EAGAIN && errno != EINTR) {
            snprintf(err, errlen, "%s: send: %s", out->name, strerror(errno));
            return -1;
        }
        w = wait_fd(out->fd, POLLOUT, deadline);
        if (w <= 0) {
            snprintf(err, errlen, "%s: send: %s", out->name,
                     w == 0 ? "timed out (the receiver's queue is full)" : strerror(errno));
            return -1;
        }
    }
}

/* A file that was renamed or removed under us (log rotation) is reopened. */
static void file_follow(struct fs_rp_out *out)
{
    struct stat st;

    if (out->fd >= 0 && (stat(out->path, &st) < 0 || st.st_dev != out->file_st.st_dev ||
                         st.st_ino != out->file_st.st_ino))
        close_conn(out);
}

static int write_line(struct fs_rp_out *out, const char *msg, size_t len, char *err,
                      size_t errlen)
{
    struct iovec iov[2] = { { (void *)msg, len }, { (void *)"\n", 1 } };
    size_t left = len + 1;

    while (left > 0) {
        ssize_t n = writev(out->fd, iov, 2);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "%s: write: %s", out->name, n < 0 ? strerror(errno) : "short");
            return -1;
        }
        left -= (size_t)n;
        for (int i = 0; i < 2 && n > 0; i++) {
            size_t k = (size_t)n < iov[i].iov_len ? (size_t)n : iov[i].iov_len;

            iov[i].iov_base = (char *)iov[i].iov_base + k;
            iov[i].iov_len -= k;
            n -= (ssize_t)k;
        }
    }
    return 0;
}

/* Messages a transport cannot carry as they are, refused before anything
 * is opened or written. */
static int refuse(struct fs_rp_out *out, const char *msg, size_t len, char *err,
                  size_t errlen)
{
    char why[80] = "";

    if (len == 0)
        snprintf(why, sizeof(why), "is empty");
    else if ((out->t == FS_RP_T_UDP || (out->t == FS_RP_T_UNIX && !out->stream)) &&
             len > FS_RP_DGRAM_MAX)
        snprintf(why, sizeof(why), "is longer than a datagram may be (%d bytes)",
                 FS_RP_DGRAM_MAX);
    else if (out->t == FS_RP_T_FILE && memchr(msg, '\n', len) != NULL)
        snprintf(why, sizeof(why), "holds a line feed (a file takes one message per line)");
    else if (out->t == FS_RP_T_UNIX && memchr(msg, '\0', len) != NULL)
        snprintf(why, sizeof(why), "holds a NUL byte (local syslog daemons end messages there)");
    if (why[0] == '\0')
        return 0;
    snprintf(err, errlen, "%s: not sent: the message (%zu bytes) %s", out->name, len, why);
    out->c.errors++;
    return -1;
}

int fs_rp_out_send(struct fs_rp_out *out, const char *msg, size_t len, uint64_t now_ms,
                   char *err, size_t errlen)
{
    bool stream = out->t == FS_RP_T_TCP || out->t == FS_RP_T_TLS;
    int r;

    out->last_now_ms = now_ms;
    if (refuse(out, msg, len, err, errlen) < 0)
        return -1;
    if (out->t == FS_RP_T_FILE)
        file_follow(out);
    /* A receiver that already left must not get this message written into
     * a dead socket, where it would be lost without an error. */
    if (out->fd >= 0 && fs_rp_out_check(out, err, errlen) < 0) {
        out->c.errors++;
        return -1;
    }
    if (out->fd < 0) {
        uint64_t left = fs_rp_out_backoff_left(out, now_ms);

        if (left > 0) {
            snprintf(err, errlen, "%s: waiting to reconnect (%llu ms)", out->name,
                     (unsigned long long)left);
            return -1;
        }
        if (open_out(out, err, errlen) < 0) {
            out->c.errors++;
            failed(out, now_ms, false);
            return -1;
        }
    }
    if (stream || (out->t == FS_RP_T_UNIX && out->stream)) {
        ssize_t n = frame(out, msg, len);

        if (n < 0) {
            snprintf(err, errlen, "%s: out of memory", out->name);
            out->c.errors++;
            return -1;
        }
        r = write_all(out, out->buf, (size_t)n, err, errlen);
    } else if (out->t == FS_RP_T_FILE) {
        r = write_line(out, msg, len, err, errlen);
    } else {
        r = send_dgram(out, msg, len, err, errlen);
    }
    if (r < 0) {
        out->c.errors++;
        failed(out, now_ms, out->t != FS_RP_T_UDP && out->t != FS_RP_T_FILE);
        return -1;
    }
    out->failures = 0;
    out->c.sent++;
    out->c.bytes += len;
    return 0;
}
