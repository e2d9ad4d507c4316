/*
 * nfcsv.c - flows from `nfdump -o csv` (Debian 12's nfdump 1.7.1).
 *
 * What nfdump 1.7.1 writes (tests/fixtures/nfdump/ holds a real sample and
 * the commands that made it):
 *
 *   ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,...
 *   2024-01-01 09:59:58,2024-01-01 09:59:59,1.499,10.0.0.1,10.0.0.2,...,TCP,...AP.SF,...
 *   ...
 *   Summary
 *   flows,bytes,packets,avg_bps,avg_pps,avg_bpp
 *   260,9297073879,4295000214,1239630511,71584529,2
 *
 * - ts/te are local time (nfdump calls localtime()) with whole seconds; td
 *   is the duration with milliseconds. The start is put at the latest of ts
 *   and te - td, and the end at start + td, which keeps the exact duration and
 *   stays within the second that ts and te name.
 * - pr is a protocol name from nfdump's own table ("TCP", "ICMP6", "GRE";
 *   numbers for the unnamed, space-padded from 138 up); flg is "CEUAPRSF"
 *   with '.' for a clear bit. ICMP type and code are in dp (type << 8 | code).
 * - Columns it fills with 0 when the exporter sent nothing (interfaces, AS,
 *   masks, next hops, VLANs, MACs, MPLS, direction, forwarding status) are
 *   taken as absent when 0. For ICMP, nfdump moves a type/code that a v5
 *   exporter put in the source port to the destination port (byte-swapped):
 *   what it printed is what is read. opkt/obyt (IE 23/24 post counters, or NSEL
 *   responder counters, depending on the exporter) and the latency, tr and
 *   exid columns have no fs_flow field and are not read. Neither the export
 *   version nor the sampling rate is in the file: version stays 0, and the
 *   counters are taken as they are (nfcapd has already scaled them).
 * - `nfdump -q` leaves out the header and summary: rows met before any header
 *   use 1.7.1's column order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "input.h"

enum col {
    C_SKIP = 0, /* a column this reader does not use */
    C_TS, C_TE, C_TD, C_SA, C_DA, C_SP, C_DP, C_PR, C_FLG, C_FWD, C_STOS,
    C_IPKT, C_IBYT, C_IN, C_OUT, C_SAS, C_DAS, C_SMK, C_DMK, C_DIR, C_NH, C_NHB,
    C_SVLN, C_DVLN, C_ISMC, C_IDMC, C_MPLS1, /* ... C_MPLS1 + 9 */
    C_RA = C_MPLS1 + 10, C_ENG, C_COUNT
};

static const struct {
    const char *name;
    enum col col;
} names[] = {
    { "ts", C_TS }, { "te", C_TE }, { "td", C_TD }, { "sa", C_SA }, { "da", C_DA },
    { "sp", C_SP }, { "dp", C_DP }, { "pr", C_PR }, { "flg", C_FLG }, { "fwd", C_FWD },
    { "stos", C_STOS }, { "ipkt", C_IPKT }, { "ibyt", C_IBYT }, { "in", C_IN },
    { "out", C_OUT }, { "sas", C_SAS }, { "das", C_DAS }, { "smk", C_SMK }, { "dmk", C_DMK },
    { "dir", C_DIR }, { "nh", C_NH }, { "nhb", C_NHB }, { "svln", C_SVLN },
    { "dvln", C_DVLN }, { "ismc", C_ISMC }, { "idmc", C_IDMC }, { "mpls1", C_MPLS1 },
    { "mpls2", C_MPLS1 + 1 }, { "mpls3", C_MPLS1 + 2 }, { "mpls4", C_MPLS1 + 3 },
    { "mpls5", C_MPLS1 + 4 }, { "mpls6", C_MPLS1 + 5 }, { "mpls7", C_MPLS1 + 6 },
    { "mpls8", C_MPLS1 + 7 }, { "mpls9", C_MPLS1 + 8 }, { "mpls10", C_MPLS1 + 9 },
    { "ra", C_RA }, { "eng", C_ENG },
};

/* nfdump 1.7.1's header, for files written with -q. */
static const char default_header[] =
    "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,smk,dmk,dtos,"
    "dir,nh,nhb,svln,dvln,ismc,odmc,idmc,osmc,mpls1,mpls2,mpls3,mpls4,mpls5,mpls6,mpls7,"
    "mpls8,mpls9,mpls10,cl,sl,al,ra,eng,exid,tr";

/* nfdump 1.7.1's protocol names by number, as it prints them (read off its
 * output for every number 0..255; NULL where it prints the number). 35 and
 * 38 are both "IDPR": the name reads as 35. */
static const char *const proto_names[] = {
    NULL, "ICMP", "IGMP", "GGP", "IPIP", "ST", "TCP", "CBT", "EGP", "IGP", "BBN", "NVPII",
    "PUP", "ARGUS", "ENCOM", "XNET", "CHAOS", "UDP", "MUX", "DCN", "HMP", "PRM", "XNS",
    "Trnk1", "Trnk2", "Leaf1", "Leaf2", "RDP", "IRTP", "ISO-4", "NETBK", "MFESP", "MEINP",
    "DCCP", "3PC", "IDPR", "XTP", "DDP", "IDPR", "TP++", "IL", "IPv6", "SDRP", "Rte6", "Frag6",
    "IDRP", "RSVP", "GRE", "MHRP", "BNA", "ESP", "AH", "INLSP", "SWIPE", "NARP", "MOBIL",
    "TLSP", "SKIP", "ICMP6", "NOHE6", "OPTS6", "HOST", "CFTP", "NET", "SATNT", "KLAN", "RVD",
    "IPPC", "FS", "SATM", "VISA", "IPCV", "CPNX", "CPHB", "WSN", "PVP", "BSATM", "SUNND",
    "WBMON", "WBEXP", "ISOIP", "VMTP", "SVMTP", "VINES", "TTP", "NSIGP", "DGP", "TCF", "EIGRP",
    "OSPF", "S-RPC", "LARP", "MTP", "AX.25", "OS", "MICP", "SCCSP", "ETHIP", "ENCAP", NULL,
    "GMTP", "IFMP", "PNNI", "PIM", "ARIS", "SCPS", "QNX", "A/N", "IPcmp", "SNP", "CpqPP",
    "IPXIP", "VRRP", "PGM", "0hop", "L2TP", "DDX", "IATP", "STP", "SRP", "UTI", "SMP", "SM",
    "PTP", "ISIS4", "FIRE", "CRTP", "CRUDP", NULL, "IPLT", "SPS", "PIPE", "SCTP", "FC", NULL,
    "MHEAD", "UDP-L", "MPLS",
};

#define NPROTO (sizeof(proto_names) / sizeof(proto_names[0]))

#define MAX_COLS 128
#define TZ_CACHE 64

enum tz_mode { TZ_FIXED, TZ_LOCAL };
enum state { S_START, S_ROWS, S_SUMMARY, S_SUMMARY_VALUES };

struct fs_nfcsv {
    enum tz_mode tz;
    int64_t tz_offset;          /* TZ_FIXED: seconds east of UTC */
    struct {                    /* TZ_LOCAL: offset per local hour, direct-mapped */
        int64_t hour;
        int64_t offset;
    } cache[TZ_CACHE];
    enum state state;
    size_t ncols;
    uint8_t cols[MAX_COLS];     /* enum col of each column */
};

struct field {
    const char *s;
    size_t n;
};

/* "+02:00", "-0530", "+2": seconds east of UTC. */
static int parse_offset(const char *tz, int64_t *out)
{
    int sign = tz[0] == '-' ? -1 : 1, h = 0, m = 0;
    const char *p = tz + 1;

    if (tz[0] != '+' && tz[0] != '-')
        return -1;
    if (p[0] < '0' || p[0] > '9')
        return -1;
    h = *p++ - '0';
    if (*p >= '0' && *p <= '9')
        h = h * 10 + (*p++ - '0');
    if (*p == ':')
        p++;
    if (*p != '\0') {
        if (p[0] < '0' || p[0] > '5' || p[1] < '0' || p[1] > '9' || p[2] != '\0')
            return -1;
        m = (p[0] - '0') * 10 + (p[1] - '0');
    }
    if (h > 14)
        return -1;
    *out = sign * (int64_t)(h * 3600 + m * 60);
    return 0;
}

static int set_columns(struct fs_nfcsv *c, const char *line, size_t len, char *err,
                       size_t errlen);

struct fs_nfcsv *fs_nfcsv_new(const char *tz)
{
    struct fs_nfcsv *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    if (tz == NULL || strcmp(tz, "local") == 0) {
        c->tz = TZ_LOCAL;
        tzset();
    } else if (strcasecmp(tz, "UTC") == 0 || strcmp(tz, "Z") == 0) {
        c->tz = TZ_FIXED;
    } else if (parse_offset(tz, &c->tz_offset) == 0) {
        c->tz = TZ_FIXED;
    } else {
        free(c);
        return NULL;
    }
    for (size_t i = 0; i < TZ_CACHE; i++)
        c->cache[i].hour = INT64_MIN;
    fs_nfcsv_reset(c);
    return c;
}

void fs_nfcsv_free(struct fs_nfcsv *c)
{
    free(c);
}

void fs_nfcsv_reset(struct fs_nfcsv *c)
{
    char err[8];

    c->state = S_START;
    set_columns(c, default_header, sizeof(default_header) - 1, err, sizeof(err));
}

static void trim(struct field *f)
{
    while (f->n > 0 && (f->s[0] == ' ' || f->s[0] == '\t')) {
        f->s++;
        f->n--;
    }
    while (f->n > 0 && (f->s[f->n - 1] == ' ' || f->s[f->n - 1] == '\t' ||
                        f->s[f->n - 1] == '\r'))
        f->n--;
}

#define ONES UINT64_C(0x0101010101010101)

/* The first comma from `p`, or `end`: eight bytes a step while no comma is
 * among them (the zero-byte test on the word XOR commas, exact as a yes/no). */
static const char *next_comma(const char *p, const char *end)
{
    uint64_t w;

    while (end - p >= 8) {
        memcpy(&w, p, 8);
        w ^= ONES * ',';
        if ((w - ONES) & ~w & (ONES * 0x80))
            break;
        p += 8;
    }
    while (p < end && *p != ',')
        p++;
    return p;
}

/* Splits at commas into at most `max` fields, blanks trimmed; returns the
 * count, or max + 1 when there are more. One pass over the bytes. */
static size_t split(const char *line, size_t len, struct field *out, size_t max)
{
    const char *p = line, *end = line + len, *start = line;
    size_t n = 0;

    for (;; p++) {
        p = next_comma(p, end);
        if (n == max)
            return max + 1;
        out[n].s = start;
        out[n].n = (size_t)(p - start);
        if (out[n].n > 0 && (start[0] == ' ' || p[-1] == ' ' || p[-1] == '\t' ||
                             start[0] == '\t' || p[-1] == '\r'))
            trim(&out[n]);
        n++;
        if (p == end)
            return n;
        start = p + 1;
    }
}

/* Takes a header line. A bad one leaves nfdump 1.7.1's columns in place. */
static int set_columns(struct fs_nfcsv *c, const char *line, size_t len, char *err,
                       size_t errlen)
{
    struct field f[MAX_COLS];
    size_t n = split(line, len, f, MAX_COLS);
    bool have[C_COUNT] = { false };
    uint8_t cols[MAX_COLS];

    if (n > MAX_COLS) {
        snprintf(err, errlen, "header has more than %d columns", MAX_COLS);
        goto bad;
    }
    for (size_t i = 0; i < n; i++) {
        cols[i] = C_SKIP;
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
            if (strlen(names[k].name) == f[i].n && memcmp(names[k].name, f[i].s, f[i].n) == 0) {
                if (have[names[k].col]) {
                    snprintf(err, errlen, "header names column '%s' twice", names[k].name);
                    goto bad;
                }
                have[names[k].col] = true;
                cols[i] = (uint8_t)names[k].col;
                break;
            }
        }
    }
    if (!have[C_SA] || !have[C_DA] || (!have[C_TS] && !have[C_TE])) {
        snprintf(err, errlen, "header lacks %s (not nfdump -o csv?)",
                 !have[C_SA] ? "'sa'" : !have[C_DA] ? "'da'" : "'ts' and 'te'");
        goto bad;
    }
    memcpy(c->cols, cols, n);
    c->ncols = n;
    return 0;
bad:
    if (line != default_header)
        set_columns(c, default_header, sizeof(default_header) - 1, err, errlen);
    return -1;
}

/* Up to 60 bytes of `s` for a message, unprintable bytes as '?'. */
static const char *excerpt(char *out, size_t cap, const char *s, size_t n)
{
    size_t k = n < cap - 4 ? n : cap - 4;

    for (size_t i = 0; i < k; i++)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    strcpy(out + k, k < n ? "..." : "");
    return out;
}

static const char *col_name(enum col col)
{
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
        if (names[k].col == col)
            return names[k].name;
    return "?";
}

static int bad(char *err, size_t errlen, enum col col, const struct field *f, const char *what)
{
    char text[64];

    snprintf(err, errlen, "%s: '%s' is not %s", col_name(col),
             excerpt(text, sizeof(text), f->s, f->n), what);
    return -1;
}

static bool parse_uint(const struct field *f, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (f->n == 0 || f->n > 20)
        return false;
    for (size_t i = 0; i < f->n; i++) {
        unsigned d = (unsigned)(f->s[i] - '0');

        /* Nineteen digits always fit in 64 bits. */
        if (d > 9 || (i >= 19 && v > (UINT64_MAX - d) / 10))
            return false;
        v = v * 10 + d;
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

static bool digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* Days from 1970-01-01 to a date of the proleptic Gregorian calendar. */
static int64_t days_from_civil(unsigned y, unsigned m, unsigned d)
{
    /* Counting years from March puts the leap day last. */
    unsigned yy = m <= 2 ? y - 1 : y;
    unsigned mp = m <= 2 ? m + 9 : m - 3;
    int64_t days = (int64_t)yy * 365 + yy / 4 - yy / 100 + yy / 400;

    days += (153 * mp + 2) / 5 + d - 1;
    return days - 719468; /* that count for 1970-03-01 minus March-to-January */
}

static int64_t local_offset(struct fs_nfcsv *c, int64_t as_utc, unsigned y, unsigned mo,
                            unsigned d, unsigned h, unsigned mi, unsigned s)
{
    int64_t hour = as_utc / 3600;
    size_t slot = (size_t)(hour & (TZ_CACHE - 1));
    struct tm tm = { 0 };
    time_t t;

    if (c->cache[slot].hour == hour)
        return c->cache[slot].offset;
    tm.tm_year = (int)y - 1900;
    tm.tm_mon = (int)mo - 1;
    tm.tm_mday = (int)d;
    tm.tm_hour = (int)h;
    tm.tm_min = (int)mi;
    tm.tm_sec = (int)s;
    tm.tm_isdst = -1;
    t = mktime(&tm);
    c->cache[slot].hour = hour;
    c->cache[slot].offset = t == (time_t)-1 ? 0 : as_utc - (int64_t)t;
    return c->cache[slot].offset;
}

/* "YYYY-MM-DD HH:MM:SS" with an optional fraction; `*whole` tells whether
 * the fraction was missing (nfdump 1.7 prints none). */
static bool parse_time(struct fs_nfcsv *c, const struct field *f, uint64_t *ms, bool *whole)
{
    static const unsigned char mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    const char *s = f->s;
    unsigned y, mo, d, h, mi, sec, frac = 0;
    int64_t t;

    if (f->n < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') ||
        s[13] != ':' || s[16] != ':')
        return false;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
        return false;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0))) || h > 23 ||
        mi > 59 || sec > 60)
        return false;
    *whole = f->n == 19;
    if (!*whole) {
        size_t nd = f->n - 20;

        if (s[19] != '.' || nd == 0 || nd > 9 || !digits(s + 20, nd, &frac))
            return false;
        for (; nd < 3; nd++)
            frac *= 10;
        for (; nd > 3; nd--)
            frac /= 10;
    }
    t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    t -= c->tz == TZ_FIXED ? c->tz_offset : local_offset(c, t, y, mo, d, h, mi, sec);
    if (t < 0)
        return false;
    *ms = (uint64_t)t * 1000 + frac;
    return true;
}

/* "1.499": seconds with up to three decimals, to milliseconds. */
static bool parse_duration(const struct field *f, uint64_t *ms)
{
    const char *dot = memchr(f->s, '.', f->n);
    struct field whole = { f->s, dot != NULL ? (size_t)(dot - f->s) : f->n };
    uint64_t sec, frac = 0;
    size_t nd = dot != NULL ? f->n - whole.n - 1 : 0;

    if (!parse_uint(&whole, UINT64_MAX / 1000 - 1, &sec))
        return false;
    if (dot != NULL) {
        unsigned v;

        if (nd == 0 || nd > 9 || !digits(dot + 1, nd, &v))
            return false;
        frac = v;
        for (; nd < 3; nd++)
            frac *= 10;
        for (; nd > 3; nd--)
            frac /= 10;
    }
    *ms = sec * 1000 + frac;
    return true;
}

static bool parse_proto(const struct field *f, uint8_t *out)
{
    uint64_t v;

    if (parse_uint(f, 255, &v)) {
        *out = (uint8_t)v;
        return true;
    }
    /* The common ones first, then the table. */
    if (f->n == 3 && memcmp(f->s, "TCP", 3) == 0) {
        *out = 6;
        return true;
    }
    if (f->n == 3 && memcmp(f->s, "UDP", 3) == 0) {
        *out = 17;
        return true;
    }
    if (f->n == 4 && memcmp(f->s, "ICMP", 4) == 0) {
        *out = 1;
        return true;
    }
    for (size_t i = 0; i < NPROTO; i++) {
        if (proto_names[i] != NULL && strlen(proto_names[i]) == f->n &&
            strncasecmp(proto_names[i], f->s, f->n) == 0) {
            *out = (uint8_t)i;
            return true;
        }
    }
    return false;
}

/* "...AP.SF": one letter per bit, CWR first; or a number. */
static bool parse_flags(const struct field *f, uint8_t *out)
{
    static const char letters[] = "CEUAPRSF";
    uint64_t v;
    uint8_t bits = 0;

    if (f->n == 8) {
        size_t i;

        for (i = 0; i < 8; i++) {
            if (f->s[i] == letters[i])
                bits |= (uint8_t)(0x80 >> i);
            else if (f->s[i] != '.')
                break;
        }
        if (i == 8) {
            *out = bits;
            return true;
        }
    }
    if (parse_uint(f, 255, &v)) {
        *out = (uint8_t)v;
        return true;
    }
    return false;
}

/* "16001-0-1": label, experimental bits, bottom of stack. */
static bool parse_mpls(const struct field *f, uint32_t *entry)
{
    const char *d1 = memchr(f->s, '-', f->n), *d2;
    struct field label, exp, bos;
    uint64_t l, e, b;

    if (d1 == NULL || (d2 = memchr(d1 + 1, '-', (size_t)(f->s + f->n - d1 - 1))) == NULL)
        return false;
    label = (struct field){ f->s, (size_t)(d1 - f->s) };
    exp = (struct field){ d1 + 1, (size_t)(d2 - d1 - 1) };
    bos = (struct field){ d2 + 1, (size_t)(f->s + f->n - d2 - 1) };
    if (!parse_uint(&label, 0xfffff, &l) || !parse_uint(&exp, 7, &e) ||
        !parse_uint(&bos, 1, &b))
        return false;
    *entry = (uint32_t)(l << 4 | e << 1 | b);
    return true;
}

/* "3/4": engine type and id, the v5 way flowsentry keeps as domain. */
static bool parse_engine(const struct field *f, uint32_t *domain)
{
    const char *slash = memchr(f->s, '/', f->n);
    struct field type, id;
    uint64_t t, i;

    if (slash == NULL)
        return false;
    type = (struct field){ f->s, (size_t)(slash - f->s) };
    id = (struct field){ slash + 1, (size_t)(f->s + f->n - slash - 1) };
    if (!parse_uint(&type, 255, &t) || !parse_uint(&id, 255, &i))
        return false;
    *domain = (uint32_t)(t << 8 | i);
    return true;
}

static bool is_zero_ip(const fs_ip *ip)
{
    static const uint8_t zero[16];

    return memcmp(ip->b, zero, ip->af == 4 ? 4 : 16) == 0;
}

/* Numbers kept only when not 0 (nfdump's "not sent"). */
#define OPT_UINT(bit, dst, type, max)                                       \
    do {                                                                    \
        if (!parse_uint(v, (max), &n))                                      \
            return bad(err, errlen, col, v, "a number in range");          \
        if (n != 0) {                                                       \
            (dst) = (type)n;                                                \
            FS_FLOW_SET(f, (bit));                                          \
        }                                                                   \
    } while (0)

static bool line_is(const char *line, size_t len, const char *lit)
{
    size_t n = strlen(lit);

    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    return len == n && memcmp(line, lit, n) == 0;
}

/* A data row of the nfdump summary: six numbers. */
static bool all_digits_and_commas(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((line[i] < '0' || line[i] > '9') && line[i] != ',' && line[i] != '\r' &&
            line[i] != '.')
            return false;
    return len > 0;
}

static int parse_row(struct fs_nfcsv *c, const char *line, size_t len, struct fs_flow *f,
                     char *err, size_t errlen)
{
    struct field fields[MAX_COLS];
    size_t nf = split(line, len, fields, c->ncols);
    uint64_t ts = 0, te = 0, td = 0, n;
    bool have_ts = false, have_te = false, have_td = false, ts_whole = true, te_whole = true;
    uint32_t mpls[10] = { 0 };

    if (nf != c->ncols) {
        snprintf(err, errlen, "%s%zu columns where the header has %zu",
                 nf > c->ncols ? "more than " : "", nf > c->ncols ? c->ncols : nf, c->ncols);
        return -1;
    }
    fs_flow_init(f);
    for (size_t i = 0; i < nf; i++) {
        const struct field *v = &fields[i];
        enum col col = (enum col)c->cols[i];

        switch (col) {
        case C_TS:
            if (!parse_time(c, v, &ts, &ts_whole))
                return bad(err, errlen, col, v, "a time (YYYY-MM-DD HH:MM:SS, from 1970)");
            have_ts = true;
            break;
        case C_TE:
            if (!parse_time(c, v, &te, &te_whole))
                return bad(err, errlen, col, v, "a time (YYYY-MM-DD HH:MM:SS, from 1970)");
            have_te = true;
            break;
        case C_TD:
            if (!parse_duration(v, &td))
                return bad(err, errlen, col, v, "a duration in seconds");
            have_td = true;
            break;
        case C_SA:
        case C_DA:
        case C_NH:
        case C_NHB:
        case C_RA: {
            fs_ip ip;

            if (fs_ip_parse_len(v->s, v->n, &ip) < 0)
                return bad(err, errlen, col, v, "an IP address");
            if (col == C_SA) {
                f->src_addr = ip;
                FS_FLOW_SET(f, FS_F_SRC_ADDR);
            } else if (col == C_DA) {
                f->dst_addr = ip;
                FS_FLOW_SET(f, FS_F_DST_ADDR);
            } else if (col == C_RA) {
                f->exporter = ip;
            } else if (!is_zero_ip(&ip)) {
                *(col == C_NH ? &f->next_hop : &f->bgp_next_hop) = ip;
                FS_FLOW_SET(f, col == C_NH ? FS_F_NEXT_HOP : FS_F_BGP_NEXT_HOP);
            }
            break;
        }
        case C_SP:
        case C_DP:
            if (!parse_uint(v, 65535, &n))
                return bad(err, errlen, col, v, "a port (0..65535)");
            if (col == C_SP)
                f->src_port = (uint16_t)n;
            else
                f->dst_port = (uint16_t)n;
            FS_FLOW_SET(f, col == C_SP ? FS_F_SRC_PORT : FS_F_DST_PORT);
            break;
        case C_PR:
            if (!parse_proto(v, &f->proto))
                return bad(err, errlen, col, v, "a protocol");
            FS_FLOW_SET(f, FS_F_PROTO);
            break;
        case C_FLG:
            if (!parse_flags(v, &f->tcp_flags))
                return bad(err, errlen, col, v, "TCP flags (like ...AP.SF)");
            FS_FLOW_SET(f, FS_F_TCP_FLAGS);
            break;
        case C_STOS:
            if (!parse_uint(v, 255, &n))
                return bad(err, errlen, col, v, "a number 0..255");
            f->tos = (uint8_t)n;
            FS_FLOW_SET(f, FS_F_TOS);
            break;
        case C_IPKT:
        case C_IBYT:
            if (!parse_uint(v, UINT64_MAX, &n))
                return bad(err, errlen, col, v, "a counter");
            if (col == C_IPKT)
                f->packets = n;
            else
                f->bytes = n;
            FS_FLOW_SET(f, col == C_IPKT ? FS_F_PACKETS : FS_F_BYTES);
            break;
        case C_FWD:
            OPT_UINT(FS_F_FWD_STATUS, f->fwd_status, uint8_t, 255);
            break;
        case C_IN:
            OPT_UINT(FS_F_IN_IF, f->in_if, uint32_t, UINT32_MAX);
            break;
        case C_OUT:
            OPT_UINT(FS_F_OUT_IF, f->out_if, uint32_t, UINT32_MAX);
            break;
        case C_SAS:
            OPT_UINT(FS_F_SRC_AS, f->src_as, uint32_t, UINT32_MAX);
            break;
        case C_DAS:
            OPT_UINT(FS_F_DST_AS, f->dst_as, uint32_t, UINT32_MAX);
            break;
        case C_SMK:
            OPT_UINT(FS_F_SRC_MASK, f->src_mask, uint8_t, 128);
            break;
        case C_DMK:
            OPT_UINT(FS_F_DST_MASK, f->dst_mask, uint8_t, 128);
            break;
        case C_DIR:
            OPT_UINT(FS_F_DIRECTION, f->direction, uint8_t, 255);
            break;
        case C_SVLN:
            OPT_UINT(FS_F_SRC_VLAN, f->src_vlan, uint16_t, 65535);
            break;
        case C_DVLN:
            OPT_UINT(FS_F_DST_VLAN, f->dst_vlan, uint16_t, 65535);
            break;
        case C_ISMC:
        case C_IDMC: {
            static const uint8_t zero[6];
            uint8_t *mac = col == C_ISMC ? f->src_mac : f->dst_mac;

            if (fs_mac_parse_len(v->s, v->n, mac) < 0)
                return bad(err, errlen, col, v, "a MAC address");
            if (memcmp(mac, zero, 6) != 0)
                FS_FLOW_SET(f, col == C_ISMC ? FS_F_SRC_MAC : FS_F_DST_MAC);
            break;
        }
        case C_ENG:
            if (!parse_engine(v, &f->domain))
                return bad(err, errlen, col, v, "an engine type/id");
            break;
        case C_SKIP:
        case C_COUNT:
            break;
        default: { /* C_MPLS1 .. C_MPLS1 + 9 */
            uint32_t entry;

            if (!parse_mpls(v, &entry))
                return bad(err, errlen, col, v, "an MPLS label (label-exp-bos)");
            mpls[col - C_MPLS1] = entry;
            break;
        }
        }
    }
    /* The stack ends at the first empty entry: nfdump pads with 0-0-0. */
    for (size_t i = 0; i < 10 && mpls[i] != 0 && f->mpls_count < FS_FLOW_MPLS_MAX; i++) {
        f->mpls[f->mpls_count++] = mpls[i];
        FS_FLOW_SET(f, FS_F_MPLS);
    }
    if (!have_ts)
        ts = have_td && te >= td ? te - td : te;
    if (!have_te)
        te = ts;
    /* Whole seconds: the true start lies in [ts, ts + 1 s) and the true end,
     * start + td, in [te, te + 1 s), hence start >= te - td. */
    if (have_td && ts_whole && te_whole && te >= ts && td <= te - ts + 999) {
        if (te >= td && te - td > ts)
            ts = te - td;
        te = ts + td;
    }
    f->start_ms = ts;
    f->end_ms = te;
    FS_FLOW_SET(f, FS_F_START);
    FS_FLOW_SET(f, FS_F_END);
    return 1;
}

int fs_nfcsv_line(struct fs_nfcsv *c, const char *line, size_t len, struct fs_flow *f,
                  char *err, size_t errlen)
{
    char text[64];

    while (len > 0 && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return 0;
    if (line[0] >= '0' && line[0] <= '9') {
        if (c->state == S_SUMMARY_VALUES && all_digits_and_commas(line, len)) {
            c->state = S_ROWS;
            return 0;
        }
        c->state = S_ROWS;
        return parse_row(c, line, len, f, err, errlen);
    }
    if (line_is(line, len, "Summary")) {
        c->state = S_SUMMARY;
        return 0;
    }
    if (line_is(line, len, "No matching flows"))
        return 0;
    if (c->state == S_SUMMARY && len >= 6 && memcmp(line, "flows,", 6) == 0) {
        c->state = S_SUMMARY_VALUES;
        return 0;
    }
    /* A header: nfdump's starts with ts, but any order is taken at the start. */
    if ((len >= 3 && memcmp(line, "ts,", 3) == 0) ||
        (c->state == S_START && memchr(line, ',', len) != NULL)) {
        c->state = S_ROWS;
        return set_columns(c, line, len, err, errlen) < 0 ? -1 : 0;
    }
    snprintf(err, errlen, "not an nfdump CSV row: '%s'", excerpt(text, sizeof(text), line, len));
    return -1;
}
