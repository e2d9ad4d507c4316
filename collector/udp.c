/*
 * udp.c - UDP listeners for NetFlow/IPFIX exports.
 *
 * Exports arrive in bursts (every exporter flushes its cache at once, and
 * templates are resent in floods), so the socket gets a big receive buffer
 * and is drained FS_UDP_BATCH datagrams per system call. Each slot is large
 * enough for any UDP datagram, but only the pages a datagram touches are
 * ever resident. Linux puts the socket's cumulative drop count in a control
 * message (SO_RXQ_OVFL) on each datagram; differences between consecutive
 * values are the datagrams lost before we could read them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "udp.h"

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

#define SLOT 65536 /* largest UDP payload over IPv4 or IPv6 fits */
#define CTRL 64    /* room for the SO_RXQ_OVFL control message */

struct fs_udp {
    int fd;
    char name[80];
    struct fs_udp_stats st;
    uint32_t last_ovfl;       /* last cumulative drop count from the kernel */
    uint64_t drops_reported;  /* part of st.kernel_drops already taken */
    struct mmsghdr msgs[FS_UDP_BATCH];
    struct iovec iov[FS_UDP_BATCH];
    struct sockaddr_storage from[FS_UDP_BATCH];
    uint8_t ctrl[FS_UDP_BATCH][CTRL];
    uint8_t *buf; /* FS_UDP_BATCH slots of SLOT bytes */
};

int fs_sockaddr_to_ip(const struct sockaddr *sa, fs_ip *ip, uint16_t *port)
{
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

    memset(ip, 0, sizeof(*ip));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

        ip->af = 4;
        memcpy(ip->b, &s4->sin_addr, 4);
        if (port != NULL)
            *port = ntohs(s4->sin_port);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        const uint8_t *a = s6->sin6_addr.s6_addr;

        if (memcmp(a, mapped, sizeof(mapped)) == 0) {
            ip->af = 4;
            memcpy(ip->b, a + 12, 4);
        } else {
            ip->af = 6;
            memcpy(ip->b, a, 16);
        }
        if (port != NULL)
            *port = ntohs(s6->sin6_port);
        return 0;
    }
    return -1;
}

void fs_sockaddr_name(const char *scheme, const struct sockaddr *sa, char *out, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";

    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
        snprintf(out, len, "%s://[%s]:%u", scheme, host, ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
        snprintf(out, len, "%s://%s:%u", scheme, host, ntohs(s4->sin_port));
    }
}

static void set_rcvbuf(struct fs_udp *u, int want)
{
    socklen_t sl = sizeof(u->st.rcvbuf);

    /* SO_RCVBUFFORCE passes net.core.rmem_max but needs CAP_NET_ADMIN;
     * when it is refused, ask within the limit. */
    if (want > 0 && (geteuid() != 0 ||
                     setsockopt(u->fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) < 0))
        setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
    /* Linux reports twice the size asked for (its bookkeeping overhead);
     * half of it is what datagrams can fill. */
    if (getsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &u->st.rcvbuf, &sl) == 0)
        u->st.rcvbuf /= 2;
}

/* Opens and binds one socket; -1 with errno on failure. */
static int bind_one(int type, const struct sockaddr *sa, socklen_t salen)
{
    int fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1, off = 0, saved;

    if (fd < 0)
        return -1;
    /* UDP: several collectors may share a port (the kernel spreads
     * exporters over them) and the drop counter is wanted. TCP: a restart
     * must not wait for old connections in TIME_WAIT. */
    if ((type == SOCK_DGRAM &&
         (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) < 0 ||
          setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on)) < 0)) ||
        (type == SOCK_STREAM &&
         setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0) ||
        (sa->sa_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0) ||
        bind(fd, sa, salen) < 0) {
        saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static int is_v6_any(const struct sockaddr *sa)
{
    return sa->sa_family == AF_INET6 &&
           IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

int fs_bind_socket(int type, const struct sockaddr *sa, socklen_t salen)
{
    int fd = bind_one(type, sa, salen);

    if (fd < 0 && is_v6_any(sa) && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
        struct sockaddr_in any4 = { .sin_family = AF_INET,
                                    .sin_port = ((const struct sockaddr_in6 *)sa)->sin6_port,
                                    .sin_addr.s_addr = htonl(INADDR_ANY) };

        fd = bind_one(type, (const struct sockaddr *)&any4, sizeof(any4));
    }
    return fd;
}

struct fs_udp *fs_udp_open(const struct sockaddr *sa, socklen_t salen, int rcvbuf,
                           char *err, size_t errlen)
{
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    struct fs_udp *u = calloc(1, sizeof(*u));

    if (u == NULL || (u->buf = malloc((size_t)FS_UDP_BATCH * SLOT)) == NULL) {
        snprintf(err, errlen, "out of memory");
        free(u);
        return NULL;
    }
    u->fd = fs_bind_socket(SOCK_DGRAM, sa, salen);
    if (u->fd < 0) {
        char name[80];

        fs_sockaddr_name("udp", sa, name, sizeof(name));
        snprintf(err, errlen, "%s: %s", name, strerror(errno));
        free(u->buf);
        free(u);
        return NULL;
    }
    if (getsockname(u->fd, (struct sockaddr *)&bound, &blen) == 0)
        fs_sockaddr_name("udp", (struct sockaddr *)&bound, u->name, sizeof(u->name));
    else
        fs_sockaddr_name("udp", sa, u->name, sizeof(u->name));
    set_rcvbuf(u, rcvbuf);

    for (int i = 0; i < FS_UDP_BATCH; i++) {
        u->iov[i].iov_base = u->buf + (size_t)i * SLOT;
        u->iov[i].iov_len = SLOT;
    }
    return u;
}

void fs_udp_close(struct fs_udp *u)
{
    if (u == NULL)
        return;
    close(u->fd);
    free(u->buf);
    free(u);
}

int fs_udp_fd(const struct fs_udp *u) { return u->fd; }
const char *fs_udp_name(const struct fs_udp *u) { return u->name; }
const struct fs_udp_stats *fs_udp_stats(const struct fs_udp *u) { return &u->st; }

uint64_t fs_udp_take_drops(struct fs_udp *u)
{
    uint64_t d = u->st.kernel_drops - u->drops_reported;

    u->drops_reported = u->st.kernel_drops;
    return d;
}

/* Reads the cumulative drop counter from a datagram's control messages. */
static void note_drops(struct fs_udp *u, struct msghdr *mh)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_RXQ_OVFL &&
            cm->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
            uint32_t ovfl;

            memcpy(&ovfl, CMSG_DATA(cm), sizeof(ovfl));
            /* Unsigned difference: right across the 32-bit wrap too. */
            u->st.kernel_drops += (uint32_t)(ovfl - u->last_ovfl);
            u->last_ovfl = ovfl;
        }
    }
}

int fs_udp_recv(struct fs_udp *u, fs_udp_fn fn, void *arg)
{
    int n;

    for (int i = 0; i < FS_UDP_BATCH; i++) {
        struct msghdr *mh = &u->msgs[i].msg_hdr;

        mh->msg_name = &u->from[i];
        mh->msg_namelen = sizeof(u->from[i]);
        mh->msg_iov = &u->iov[i];
        mh->msg_iovlen = 1;
        mh->msg_control = u->ctrl[i];
        mh->msg_controllen = CTRL;
        mh->msg_flags = 0;
    }
    n = recvmmsg(u->fd, u->msgs, FS_UDP_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        u->st.errors++;
        return -1;
    }
    if (n > 0)
        u->st.reads++;
    for (int i = 0; i < n; i++) {
        struct msghdr *mh = &u->msgs[i].msg_hdr;
        size_t len = u->msgs[i].msg_len;
        fs_ip src;

        note_drops(u, mh);
        if (mh->msg_flags & MSG_TRUNC) {
            u->st.truncated++;
            continue;
        }
        if (fs_sockaddr_to_ip((struct sockaddr *)&u->from[i], &src, NULL) < 0)
            continue;
        u->st.datagrams++;
        u->st.bytes += len;
        fn(arg, &src, u->iov[i].iov_base, len);
    }
    return n;
}
