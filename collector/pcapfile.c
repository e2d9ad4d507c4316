/*
 * pcapfile.c - pulls UDP payloads (export datagrams) out of capture files.
 *
 * libpcap does the file format (pcap, pcapng, either byte order, ns or us
 * timestamps); frame.c walks the link and IP headers, and this file judges
 * what it found. The IP and UDP length fields are trusted only as far as the
 * captured bytes go, so a damaged or snapped frame is counted as truncated
 * instead of being decoded with garbage behind it.
 */
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dlt.h"
#include "exporter.h"
#include "frame.h"
#include "pcapfile.h"

/* What became of one frame; each frame lands in exactly one counter. */
enum frame_result { FRAME_UDP, FRAME_SKIP, FRAME_TRUNC, FRAME_FRAG };

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Finds the UDP datagram in one captured frame of `len` bytes. */
static enum frame_result parse_frame(enum fs_frame_link link, const uint8_t *p, size_t len,
                                     struct fs_pcap_packet *pkt)
{
    struct fs_frame fr;
    int r = fs_frame_parse(p, len, link, &fr);
    size_t ulen;

    if (fr.have & FS_FRAME_HAVE_IP) {
        size_t end = (size_t)fr.l3_off + fr.ip_len;

        /* An IPv4 total length shorter than its header; an IPv6 payload
         * length of 0, a jumbogram (RFC 2675), never an export datagram. */
        if (fr.ip_version == 4 ? fr.ip_len < fr.l4_off - fr.l3_off : fr.ip_len == 40)
            return FRAME_SKIP;
        if (end > len)
            return FRAME_TRUNC;
        /* Beyond the IP packet is link-layer padding: the headers must fit
         * in the packet itself. */
        if (end < len) {
            len = end;
            r = fs_frame_parse(p, len, link, &fr);
        }
    }
    /* Before the truncation check: a fragment's or another protocol's
     * headers may end early, and that is no damage of an export datagram. */
    if (fr.flags & FS_FRAME_FRAGMENT)
        return FRAME_FRAG;
    if ((fr.have & FS_FRAME_HAVE_PROTO) && fr.proto != IPPROTO_UDP)
        return FRAME_SKIP;
    if (r == FS_FRAME_TRUNCATED)
        return FRAME_TRUNC;
    if (r != FS_FRAME_OK)
        return FRAME_SKIP;
    /* OK for UDP means the 8-byte header is there. */
    ulen = fs_get16(p + fr.l4_off + 4);
    if (ulen < 8)
        return FRAME_SKIP; /* malformed UDP length: nothing sane to hand on */
    if (ulen > len - fr.l4_off)
        return FRAME_TRUNC;
    pkt->src = fr.src_addr;
    pkt->dst = fr.dst_addr;
    pkt->src_port = fr.src_port;
    pkt->dst_port = fr.dst_port;
    pkt->payload = p + fr.payload_off;
    pkt->len = ulen - 8;
    return FRAME_UDP;
}

int fs_pcap_read(const char *path, fs_pcap_fn fn, void *arg,
                 struct fs_pcap_stats *st, char *err, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE];
    struct fs_pcap_stats local;
    struct pcap_pkthdr *hdr;
    const u_char *data;
    pcap_t *pc;
    int dlt, link, rc, ret = 0;

    if (st == NULL)
        st = &local;
    memset(st, 0, sizeof(*st));
    perr[0] = '\0';
    pc = pcap_open_offline(path, perr);
    if (pc == NULL) {
        seterr(err, errlen, "%s: %s", path, perr);
        return -1;
    }
    dlt = pcap_datalink(pc);
    link = fs_dlt_frame_link(dlt);
    if (link < 0) {
        seterr(err, errlen, "%s: unsupported link type %s (%d)", path, fs_dlt_name(dlt), dlt);
        pcap_close(pc);
        return -1;
    }

    while ((rc = pcap_next_ex(pc, &hdr, &data)) == 1) {
        struct fs_pcap_packet pkt;

        st->packets++;
        memset(&pkt, 0, sizeof(pkt));
        switch (parse_frame((enum fs_frame_link)link, data, hdr->caplen, &pkt)) {
        case FRAME_SKIP:
            st->skipped++;
            continue;
        case FRAME_TRUNC:
            st->truncated++;
            continue;
        case FRAME_FRAG:
            st->fragments++;
            continue;
        case FRAME_UDP:
            break;
        }
        st->datagrams++;
        if (hdr->ts.tv_sec > 0)
            pkt.ts_ms = (uint64_t)hdr->ts.tv_sec * 1000u + (uint64_t)hdr->ts.tv_usec / 1000u;
        if (fn(arg, &pkt) != 0)
            break;
    }
    if (rc == PCAP_ERROR) {
        seterr(err, errlen, "%s: after %llu packets: %s", path,
               (unsigned long long)st->packets, pcap_geterr(pc));
        ret = -1;
    }
    pcap_close(pc);
    return ret;
}
