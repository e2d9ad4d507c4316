/*
 * nfcsv_write.c - flows in the layout of nfdump 1.7's `-o csv` (see
 * nfcsv_write.h for where each column comes from).
 *
 * A benchmark writes millions of rows, so a row is put together by hand
 * (own integer, address and date formatting) rather than with one
 * snprintf per column; the date text of the last second seen is cached,
 * as consecutive flows mostly share it.
 */
#include <string.h>

#include "nfcsv_write.h"

const char fs_nfcsv_write_header[] =
    "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,smk,dmk,dtos,"
    "dir,nh,nhb,svln,dvln,ismc,odmc,idmc,osmc,mpls1,mpls2,mpls3,mpls4,mpls5,mpls6,mpls7,"
    "mpls8,mpls9,mpls10,cl,sl,al,ra,eng,exid,tr";

/* nfdump 1.7.1's protocol names, 0..137, as it prints them; from 138 on it
 * prints the number left-aligned in five columns. */
static const char *const proto_names[] = {
    "0", "ICMP", "IGMP", "GGP", "IPIP", "ST", "TCP", "CBT", "EGP", "IGP",
    "BBN", "NVPII", "PUP", "ARGUS", "ENCOM", "XNET", "CHAOS", "UDP", "MUX", "DCN",
    "HMP", "PRM", "XNS", "Trnk1", "Trnk2", "Leaf1", "Leaf2", "RDP", "IRTP", "ISO-4",
    "NETBK", "MFESP", "MEINP", "DCCP", "3PC", "IDPR", "XTP", "DDP", "IDPR", "TP++",
    "IL", "IPv6", "SDRP", "Rte6", "Frag6", "IDRP", "RSVP", "GRE", "MHRP", "BNA",
    "ESP", "AH", "INLSP", "SWIPE", "NARP", "MOBIL", "TLSP", "SKIP", "ICMP6", "NOHE6",
    "OPTS6", "HOST", "CFTP", "NET", "SATNT", "KLAN", "RVD", "IPPC", "FS", "SATM",
    "VISA", "IPCV", "CPNX", "CPHB", "WSN", "PVP", "BSATM", "SUNND", "WBMON", "WBEXP",
    "ISOIP", "VMTP", "SVMTP", "VINES", "TTP", "NSIGP", "DGP", "TCF", "EIGRP", "OSPF",
    "S-RPC", "LARP", "MTP", "AX.25", "OS", "MICP", "SCCSP", "ETHIP", "ENCAP", "99",
    "GMTP", "IFMP", "PNNI", "PIM", "ARIS", "SCPS", "QNX", "A/N", "IPcmp", "SNP",
    "CpqPP", "IPXIP", "VRRP", "PGM", "0hop", "L2TP", "DDX", "IATP", "STP", "SRP",
    "UTI", "SMP", "SM", "PTP", "ISIS4", "FIRE", "CRTP", "CRUDP", "128", "IPLT",
    "SPS", "PIPE", "SCTP", "FC", "134", "MHEAD", "UDP-L", "MPLS",
};
#define NPROTO_NAMES (sizeof(proto_names) / sizeof(proto_names[0]))

#define ZERO_MAC "00:00:00:00:00:00"
#define ZERO_LATENCY "    0.000"

/* Room one column may take at most: an IPv6 address (45) is the widest. */
#define COLUMN_MAX 64

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* Zero-padded to `width` digits. */
static char *put_u_pad(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + width;
}

static char *put_ip(char *p, const fs_ip *ip)
{
    char buf[FS_IP_STRLEN];
    if (ip->af == 4) {
        for (int i = 0; i < 4; i++) {
            if (i)
                *p++ = '.';
            p = put_u64(p, ip->b[i]);
        }
        return p;
    }
    if (ip->af == 6)
        return put_str(p, fs_ip_format(ip, buf));
    return put_str(p, "0.0.0.0");
}

static char *put_field_ip(char *p, const struct fs_flow *f, int bit, const fs_ip *ip)
{
    return FS_FLOW_HAS(f, bit) ? put_ip(p, ip) : put_str(p, "0.0.0.0");
}

static char *put_mac(char *p, const uint8_t *m)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 6; i++) {
        if (i)
            *p++ = ':';
        *p++ = hex[m[i] >> 4];
        *p++ = hex[m[i] & 15];
    }
    return p;
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian), after the
 * era-based method: shift the year to start in March so leap days fall
 * last. */
static void civil(int64_t days, int *y, unsigned *m, unsigned *d)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400) + (*m <= 2);
}

struct date_cache {
    int64_t secs;
    char text[19]; /* YYYY-MM-DD HH:MM:SS */
};

static _Thread_local struct date_cache cache = { -1, "" };

/* "YYYY-MM-DD HH:MM:SS" of a time in ms (UTC). */
static char *put_date(char *p, uint64_t ms)
{
    int64_t s = (int64_t)(ms / 1000);
    if (s != cache.secs) {
        int64_t days = s / 86400;
        unsigned sod = (unsigned)(s % 86400), mon, day;
        int year;
        char *q = cache.text;
        civil(days, &year, &mon, &day);
        q = put_u_pad(q, (unsigned)year, 4);
        *q++ = '-';
        q = put_u_pad(q, mon, 2);
        *q++ = '-';
        q = put_u_pad(q, day, 2);
        *q++ = ' ';
        q = put_u_pad(q, sod / 3600, 2);
        *q++ = ':';
        q = put_u_pad(q, sod / 60 % 60, 2);
        *q++ = ':';
        put_u_pad(q, sod % 60, 2);
        cache.secs = s;
    }
    memcpy(p, cache.text, sizeof(cache.text));
    return p + sizeof(cache.text);
}

static char *put_flags(char *p, uint8_t flags)
{
    static const char names[] = "CEUAPRSF";
    for (int i = 0; i < 8; i++)
        *p++ = flags & (0x80 >> i) ? names[i] : '.';
    return p;
}

static char *put_proto(char *p, uint8_t proto)
{
    if (proto < NPROTO_NAMES)
        return put_str(p, proto_names[proto]);
    p = put_u64(p, proto);
    return put_str(p, "  "); /* three digits, padded to five */
}

/* Duration in seconds with three decimals; negative when the clock ran
 * backwards, as nfdump prints a negative difference. */
static char *put_duration(char *p, uint64_t start, uint64_t end)
{
    uint64_t d = end >= start ? end - start : start - end;
    if (end < start)
        *p++ = '-';
    p = put_u64(p, d / 1000);
    *p++ = '.';
    return put_u_pad(p, (unsigned)(d % 1000), 3);
}

static uint64_t field_u64(const struct fs_flow *f, int bit, uint64_t v)
{
    return FS_FLOW_HAS(f, bit) ? v : 0;
}

int fs_nfcsv_write_row(const struct fs_flow *f, uint32_t exporter_id, uint64_t received_ms,
                  char *out, size_t cap)
{
    /* Worst case: 48 columns, none wider than COLUMN_MAX. */
    char buf[48 * COLUMN_MAX], *p = buf;
    uint64_t start = field_u64(f, FS_F_START, f->start_ms);
    uint64_t end = field_u64(f, FS_F_END, f->end_ms);
    uint8_t proto = (uint8_t)field_u64(f, FS_F_PROTO, f->proto);
    uint16_t sp = (uint16_t)field_u64(f, FS_F_SRC_PORT, f->src_port);
    uint16_t dp = (uint16_t)field_u64(f, FS_F_DST_PORT, f->dst_port);

    if (proto == 1 || proto == 58) {
        /* nfdump keeps ICMP type and code in dp; some exporters put them,
         * byte-swapped, in the source port. */
        if (sp)
            dp = (uint16_t)(sp << 8 | sp >> 8);
        sp = 0;
    }

    p = put_date(p, start);
    *p++ = ',';
    p = put_date(p, end);
    *p++ = ',';
    p = put_duration(p, start, end);
    *p++ = ',';
    p = put_field_ip(p, f, FS_F_SRC_ADDR, &f->src_addr);
    *p++ = ',';
    p = put_field_ip(p, f, FS_F_DST_ADDR, &f->dst_addr);
    *p++ = ',';
    p = put_u64(p, sp);
    *p++ = ',';
    p = put_u64(p, dp);
    *p++ = ',';
    p = put_proto(p, proto);
    *p++ = ',';
    p = put_flags(p, (uint8_t)field_u64(f, FS_F_TCP_FLAGS, f->tcp_flags));
    p = put_str(p, ",0,"); /* fwd */
    p = put_u64(p, field_u64(f, FS_F_TOS, f->tos));
    *p++ = ',';
    p = put_u64(p, field_u64(f, FS_F_PACKETS, f->packets));
    *p++ = ',';
    p = put_u64(p, field_u64(f, FS_F_BYTES, f->bytes));
    p = put_str(p, ",0,0,"); /* opkt, obyt */
    p = put_u64(p, field_u64(f, FS_F_IN_IF, f->in_if));
    *p++ = ',';
    p = put_u64(p, field_u64(f, FS_F_OUT_IF, f->out_if));
    *p++ = ',';
    p = put_u64(p, field_u64(f, FS_F_SRC_AS, f->src_as));
    *p++ = ',';
    p = put_u64(p, field_u64(f, FS_F_DST_AS, f->dst_as));
    *p++ = ',';
    p = put_u64(p, field_u64(f, FS_F_SRC_MASK, f->src_mask));
    *p++ = ',';
    p = put_u64(p, field_u64(f, FS_F_DST_MASK, f->dst_mask));
    p = put_str(p, ",0,"); /* dtos */
    p = put_u64(p, field_u64(f, FS_F_DIRECTION, f->direction));
    *p++ = ',';
    p = put_field_ip(p, f, FS_F_NEXT_HOP, &f->next_hop);
    *p++ = ',';
    if (FS_FLOW_HAS(f, FS_F_BGP_NEXT_HOP) && f->bgp_next_hop.af == 6)
        p = FS_FLOW_HAS(f, FS_F_NEXT_HOP) && f->next_hop.af == 6 ? put_ip(p, &f->next_hop)
                                                                 : put_str(p, "::");
    else
        p = put_field_ip(p, f, FS_F_BGP_NEXT_HOP, &f->bgp_next_hop);
    *p++ = ',';
    p = put_u64(p, field_u64(f, FS_F_SRC_VLAN, f->src_vlan));
    *p++ = ',';
    p = put_u64(p, field_u64(f, FS_F_DST_VLAN, f->dst_vlan));
    *p++ = ',';
    p = FS_FLOW_HAS(f, FS_F_SRC_MAC) ? put_mac(p, f->src_mac) : put_str(p, ZERO_MAC);
    p = put_str(p, "," ZERO_MAC ",");
    p = FS_FLOW_HAS(f, FS_F_DST_MAC) ? put_mac(p, f->dst_mac) : put_str(p, ZERO_MAC);
    p = put_str(p, "," ZERO_MAC);
    for (unsigned i = 0; i < 10; i++) {
        uint32_t e = FS_FLOW_HAS(f, FS_F_MPLS) && i < f->mpls_count && i < FS_FLOW_MPLS_MAX
                         ? f->mpls[i] : 0;
        *p++ = ',';
        p = put_u64(p, e >> 4);
        *p++ = '-';
        p = put_u64(p, e >> 1 & 7);
        *p++ = '-';
        p = put_u64(p, e & 1);
    }
    p = put_str(p, "," ZERO_LATENCY "," ZERO_LATENCY "," ZERO_LATENCY ",");
    p = put_ip(p, &f->exporter);
    *p++ = ',';
    if (f->version == 5) {
        p = put_u64(p, f->domain >> 8 & 0xff);
        *p++ = '/';
        p = put_u64(p, f->domain & 0xff);
    } else {
        p = put_str(p, "0/0");
    }
    *p++ = ',';
    p = put_u64(p, exporter_id);
    *p++ = ',';
    p = put_date(p, received_ms);
    *p++ = '.';
    p = put_u_pad(p, (unsigned)(received_ms % 1000), 3);

    size_t len = (size_t)(p - buf);
    if (len >= cap)
        return -1;
    memcpy(out, buf, len);
    out[len] = '\0';
    return (int)len;
}

void fs_nfcsv_write_count(struct fs_nfcsv_write_totals *s, const struct fs_flow *f)
{
    uint64_t start = field_u64(f, FS_F_START, f->start_ms);
    uint64_t end = field_u64(f, FS_F_END, f->end_ms);

    if (s->flows == 0 || start < s->first_ms)
        s->first_ms = start;
    if (s->flows == 0 || end > s->last_ms)
        s->last_ms = end;
    s->flows++;
    s->bytes += field_u64(f, FS_F_BYTES, f->bytes);
    s->packets += field_u64(f, FS_F_PACKETS, f->packets);
}

int fs_nfcsv_write_summary(const struct fs_nfcsv_write_totals *s, char *out, size_t cap)
{
    char buf[FS_NFCSV_WRITE_SUMMARY_MAX], *p = buf;
    uint64_t bps = 0, pps = 0, bpp = 0;
    /* nfdump: rates over (last - first) in seconds, truncated; none at all
     * when that span is 0. */
    double span = s->flows && s->last_ms > s->first_ms
                      ? (double)(s->last_ms - s->first_ms) / 1000.0 : 0.0;

    if (span > 0) {
        bps = (uint64_t)((double)(s->bytes << 3) / span);
        pps = (uint64_t)((double)s->packets / span);
        bpp = s->packets ? s->bytes / s->packets : 0;
    }
    p = put_str(p, "Summary\nflows,bytes,packets,avg_bps,avg_pps,avg_bpp\n");
    const uint64_t v[] = { s->flows, s->bytes, s->packets, bps, pps, bpp };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        if (i)
            *p++ = ',';
        p = put_u64(p, v[i]);
    }
    *p++ = '\n';
    size_t len = (size_t)(p - buf);
    if (len >= cap)
        return -1;
    memcpy(out, buf, len);
    out[len] = '\0';
    return (int)len;
}
