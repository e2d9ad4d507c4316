/*
 * report.c - the reporter's JSON reports (report.h): what each summary adds
 * to its period report and to the day, where days begin and end, and the
 * files: atomic writes, retention, and the queue of reports that could not
 * be written yet. reportjson.c writes the text, reportstate.c the state.
 *
 * Everything that decides what a report holds or when it is written is
 * event time (the summaries' periods), so a replay of the same events gives
 * the same files. The only wall-clock input is the name of an on-demand
 * report.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomicfile.h"
#include "opts.h"
#include "reportpriv.h"

const char *const rp_kind_names[RP_NKINDS] = { "hourly", "daily", "ondemand" };
const char *const rp_list_names[RP_NLISTS] = { "talkers", "ports", "protocols", "hosts",
                                               "periods" };

/* Longest file name in the directory: ".ondemand-YYYYMMDDTHHMMSSZ.json.XXXXXX". */
#define NAME_MAX_LEN 48

static uint64_t add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint32_t add32(uint32_t a, uint32_t b)
{
    return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

/* Only the meaningful bytes of an address. */
static int ip_cmp(const fs_ip *a, const fs_ip *b)
{
    if (a->af != b->af)
        return a->af < b->af ? -1 : 1;
    return memcmp(a->b, b->b, a->af == 4 ? 4 : a->af == 6 ? 16 : 0);
}

static int desc(uint64_t a, uint64_t b)
{
    return a == b ? 0 : a < b ? 1 : -1;
}

/* ------------------------------------------------------------------ */
/* The lists: keys, weights, and how two entries of one key combine. */

static int talker_key(const void *x, const void *y)
{
    return ip_cmp(&((const struct rp_talker *)x)->addr, &((const struct rp_talker *)y)->addr);
}

static int talker_weight(const void *x, const void *y)
{
    const struct rp_talker *a = x, *b = y;
    int c = desc(add(a->bytes_out, a->bytes_in), add(b->bytes_out, b->bytes_in));
    return c ? c : talker_key(x, y);
}

/* The z of summed figures: observed and expected add up, and so do the
 * variances behind each period's z (windows taken as independent, as the
 * analyzer does within a period). */
static void talker_combine(void *into, const void *later)
{
    struct rp_talker *t = into;
    const struct rp_talker *l = later;

    t->bytes_out = add(t->bytes_out, l->bytes_out);
    t->bytes_in = add(t->bytes_in, l->bytes_in);
    t->flows = add(t->flows, l->flows);
    t->periods = add32(t->periods, l->periods);
    t->expected += l->expected;
    t->var += l->var;
    t->var_ok = t->var_ok && l->var_ok;
    t->peak_z = fmax(t->peak_z, l->peak_z);
    t->z = t->var_ok ? ((double)add(t->bytes_out, t->bytes_in) - t->expected) / sqrt(t->var)
                     : NAN;
}

static int port_key(const void *x, const void *y)
{
    const struct rp_port *a = x, *b = y;
    if (a->proto != b->proto)
        return a->proto < b->proto ? -1 : 1;
    return a->port == b->port ? 0 : a->port < b->port ? -1 : 1;
}

static int port_weight(const void *x, const void *y)
{
    int c = desc(((const struct rp_port *)x)->flows, ((const struct rp_port *)y)->flows);
    return c ? c : port_key(x, y);
}

static void port_combine(void *into, const void *later)
{
    struct rp_port *p = into;
    const struct rp_port *l = later;
    p->flows = add(p->flows, l->flows);
    p->bytes = add(p->bytes, l->bytes);
}

static int proto_key(const void *x, const void *y)
{
    const struct rp_proto *a = x, *b = y;
    return a->proto == b->proto ? 0 : a->proto < b->proto ? -1 : 1;
}

static int proto_weight(const void *x, const void *y)
{
    int c = desc(((const struct rp_proto *)x)->bytes, ((const struct rp_proto *)y)->bytes);
    return c ? c : proto_key(x, y);
}

static void proto_combine(void *into, const void *later)
{
    struct rp_proto *p = into;
    const struct rp_proto *l = later;
    p->flows = add(p->flows, l->flows);
    p->packets = add(p->packets, l->packets);
    p->bytes = add(p->bytes, l->bytes);
}

static int host_key(const void *x, const void *y)
{
    return ip_cmp(&((const struct rp_host *)x)->addr, &((const struct rp_host *)y)->addr);
}

static int host_weight(const void *x, const void *y)
{
    const struct rp_host *a = x, *b = y;
    int c = desc(add(a->bytes_out, a->bytes_in), add(b->bytes_out, b->bytes_in));
    return c ? c : host_key(x, y);
}

/* Totals add up; the baseline is the later summary's (it has seen more). */
static void host_combine(void *into, const void *later)
{
    struct rp_host *h = into;
    const struct rp_host *l = later;
    h->bytes_out = add(h->bytes_out, l->bytes_out);
    h->bytes_in = add(h->bytes_in, l->bytes_in);
    h->packets = add(h->packets, l->packets);
    h->flows = add(h->flows, l->flows);
    h->periods = add32(h->periods, l->periods);
    memcpy(h->base, l->base, sizeof(h->base));
}

static int period_key(const void *x, const void *y)
{
    const struct rp_period *a = x, *b = y;
    return a->start_ms == b->start_ms ? 0 : a->start_ms < b->start_ms ? -1 : 1;
}

/* The latest periods are kept when there are too many. */
static int period_weight(const void *x, const void *y)
{
    return -period_key(x, y);
}

static void period_combine(void *into, const void *later)
{
    struct rp_period *p = into;
    const struct rp_period *l = later;
    p->end_ms = p->end_ms > l->end_ms ? p->end_ms : l->end_ms;
    p->bytes = add(p->bytes, l->bytes);
    p->packets = add(p->packets, l->packets);
    p->flows = add(p->flows, l->flows);
}

const struct rp_list_ops rp_list_ops[RP_NLISTS] = {
    [RP_TALKERS] = { sizeof(struct rp_talker), talker_key, talker_weight, talker_combine },
    [RP_PORTS] = { sizeof(struct rp_port), port_key, port_weight, port_combine },
    [RP_PROTOS] = { sizeof(struct rp_proto), proto_key, proto_weight, proto_combine },
    [RP_HOSTS] = { sizeof(struct rp_host), host_key, host_weight, host_combine },
    [RP_PERIODS] = { sizeof(struct rp_period), period_key, period_weight, period_combine },
};

/* Merges `n` entries (any order, keys may repeat) into a list kept sorted by
 * key, with at most FS_SUMMARY_MAX_LIST entries: the heaviest stay, the
 * others are counted in `dropped`. Returns 0, or -1 when out of memory (the
 * list is then unchanged). */
static int list_merge(struct rp_list *li, int l, const void *entries, size_t n,
                      uint64_t *dropped)
{
    const struct rp_list_ops *o = &rp_list_ops[l];
    size_t size = o->size, m = 0, i = 0, j = 0, k = 0;
    const unsigned char *old = li->v;
    unsigned char *in, *out;

    if (n == 0)
        return 0;
    in = malloc(n * size);
    out = malloc((li->n + n) * size);
    if (in == NULL || out == NULL) {
        free(in);
        free(out);
        return -1;
    }
    memcpy(in, entries, n * size);
    qsort(in, n, size, o->key);
    for (i = 0; i < n; i++) {
        if (m && o->key(in + (m - 1) * size, in + i * size) == 0) {
            o->combine(in + (m - 1) * size, in + i * size);
        } else {
            if (m != i)
                memcpy(in + m * size, in + i * size, size);
            m++;
        }
    }
    for (i = 0; i < li->n || j < m; k++) {
        int c = i == li->n ? 1 : j == m ? -1 : o->key(old + i * size, in + j * size);
        if (c <= 0) {
            memcpy(out + k * size, old + i++ * size, size);
            if (c == 0)
                o->combine(out + k * size, in + j++ * size);
        } else {
            memcpy(out + k * size, in + j++ * size, size);
        }
    }
    if (k > FS_SUMMARY_MAX_LIST) {
        qsort(out, k, size, o->weight);
        *dropped = add(*dropped, k - FS_SUMMARY_MAX_LIST);
        k = FS_SUMMARY_MAX_LIST;
        qsort(out, k, size, o->key);
    }
    free(in);
    free(li->v);
    li->v = out;
    li->n = k;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Accumulations. */

void rp_anoms_clear(struct rp_anoms *an)
{
    for (size_t i = 0; i < an->n; i++)
        free(an->v[i]);
    free(an->v);
    memset(an, 0, sizeof(*an));
}

bool rp_anoms_push(struct rp_anoms *an, char *text, uint32_t max)
{
    if (an->n >= max)
        return false;
    if (an->n == an->alloc) {
        size_t alloc = an->alloc ? 2 * an->alloc : 64;
        char **v = realloc(an->v, (alloc < max ? alloc : max) * sizeof(*v));
        if (v == NULL)
            return false;
        an->v = v;
        an->alloc = alloc < max ? alloc : max;
    }
    an->v[an->n++] = text;
    return true;
}

/* Moves every anomaly of `from` into `to`, as far as the cap allows. */
static void anoms_move(struct fs_rp_reports *r, struct rp_anoms *to, struct rp_anoms *from)
{
    to->total = add(to->total, from->total);
    to->unlisted = add(to->unlisted, from->unlisted);
    for (int c = 0; c < FS_AC_COUNT; c++)
        to->by_class[c] = add(to->by_class[c], from->by_class[c]);
    for (int s = 0; s <= FS_SEV_CRITICAL; s++)
        to->by_sev[s] = add(to->by_sev[s], from->by_sev[s]);
    for (size_t i = 0; i < from->n; i++) {
        if (!rp_anoms_push(to, from->v[i], r->max_anomalies)) {
            free(from->v[i]);
            to->unlisted++;
            r->n.anomalies_unlisted++;
        }
    }
    from->n = 0;
    rp_anoms_clear(from);
}

void rp_acc_clear(struct rp_acc *a)
{
    for (int l = 0; l < RP_NLISTS; l++)
        free(a->list[l].v);
    rp_anoms_clear(&a->an);
    memset(a, 0, sizeof(*a));
}

static void talker_from(struct rp_talker *t, const struct fs_summary_talker *s)
{
    double obs = (double)add(s->bytes_out, s->bytes_in), sd = (obs - s->expected) / s->z;

    memset(t, 0, sizeof(*t));
    t->addr = s->addr;
    t->bytes_out = s->bytes_out;
    t->bytes_in = s->bytes_in;
    t->flows = s->flows;
    t->periods = 1;
    t->expected = s->expected;
    t->z = t->peak_z = s->z;
    /* The analyzer's z is (observed - expected) / sd: sd comes back from
     * it unless z is 0 or not a number. */
    t->var_ok = isfinite(sd) && sd > 0;
    t->var = t->var_ok ? sd * sd : 0;
}

/* Adds a summary's lists to an accumulation. */
static int acc_lists(struct rp_acc *a, const struct fs_summary *s)
{
    const size_t n[RP_NLISTS] = { s->ntalkers, s->nports, s->nprotos, s->nhost_stats, 1 };
    size_t most = 0;
    unsigned char *tmp;
    int rc = 0;

    for (int l = 0; l < RP_NLISTS; l++) {
        size_t bytes = (n[l] < FS_SUMMARY_MAX_LIST ? n[l] : FS_SUMMARY_MAX_LIST) *
                       rp_list_ops[l].size;
        most = bytes > most ? bytes : most;
    }
    if ((tmp = calloc(1, most)) == NULL)
        return -1;
    for (int l = 0; l < RP_NLISTS && rc == 0; l++) {
        size_t k = n[l] < FS_SUMMARY_MAX_LIST ? n[l] : FS_SUMMARY_MAX_LIST;
        a->dropped[l] = add(a->dropped[l], n[l] - k);
        for (size_t i = 0; i < k; i++) {
            void *e = tmp + i * rp_list_ops[l].size;
            memset(e, 0, rp_list_ops[l].size);
            if (l == RP_TALKERS) {
                talker_from(e, &s->talkers[i]);
            } else if (l == RP_PORTS) {
                struct rp_port *p = e;
                p->proto = s->ports[i].proto;
                p->port = s->ports[i].port;
                p->flows = s->ports[i].flows;
                p->bytes = s->ports[i].bytes;
            } else if (l == RP_PROTOS) {
                struct rp_proto *p = e;
                p->proto = s->protos[i].proto;
                p->flows = s->protos[i].flows;
                p->packets = s->protos[i].packets;
                p->bytes = s->protos[i].bytes;
            } else if (l == RP_HOSTS) {
                struct rp_host *h = e;
                const struct fs_summary_host *sh = &s->host_stats[i];
                h->addr = sh->addr;
                h->bytes_out = sh->bytes_out;
                h->bytes_in = sh->bytes_in;
                h->packets = sh->packets;
                h->flows = sh->flows;
                h->periods = 1;
                memcpy(h->base, sh->base, sizeof(h->base));
            } else {
                struct rp_period *p = e;
                p->start_ms = s->ts_ms;
                p->end_ms = s->end_ms;
                p->bytes = s->bytes;
                p->packets = s->packets;
                p->flows = s->flows;
            }
        }
        rc = list_merge(&a->list[l], l, tmp, k, &a->dropped[l]);
    }
    free(tmp);
    return rc;
}

/* Accounts a summary: totals add up, the profiles and the host count are
 * the latest summary's. */
static int acc_add(struct rp_acc *a, const struct fs_summary *s)
{
    if (acc_lists(a, s) != 0)
        return -1;
    a->bytes = add(a->bytes, s->bytes);
    a->packets = add(a->packets, s->packets);
    a->flows = add(a->flows, s->flows);
    a->analyzer_anomalies = add(a->analyzer_anomalies, s->anomalies);
    a->hosts = s->hosts;
    memcpy(a->hour_of_day, s->hour_of_day, sizeof(a->hour_of_day));
    memcpy(a->day_of_week, s->day_of_week, sizeof(a->day_of_week));
    if (a->summaries == 0 || s->ts_ms < a->first_ms)
        a->first_ms = s->ts_ms;
    if (s->end_ms > a->last_ms)
        a->last_ms = s->end_ms;
    a->summaries++;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Files. */

static void basic_time(uint64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(out, cap, "%Y%m%dT%H%M%SZ", &tm) == 0)
        snprintf(out, cap, "invalid");
}

static void report_name(enum rp_kind kind, uint64_t ms, char *out, size_t cap)
{
    char t[32];
    basic_time(ms, t, sizeof(t));
    snprintf(out, cap, "%s-%s.json", rp_kind_names[kind], t);
}

/* Parses "<kind>-YYYYMMDDTHHMMSSZ.json" (`len` bytes of `name`). Returns 0,
 * or -1 when the name is not a report's. */
static int parse_name(const char *name, size_t len, enum rp_kind *kind, uint64_t *ms)
{
    static const int at[6] = { 0, 4, 6, 9, 11, 13 }, width[6] = { 4, 2, 2, 2, 2, 2 };

    for (int k = 0; k < RP_NKINDS; k++) {
        size_t kl = strlen(rp_kind_names[k]);
        const char *p = name + kl + 1;
        int v[6];
        if (len != kl + 22 || strncmp(name, rp_kind_names[k], kl) != 0 || name[kl] != '-')
            continue;
        if (p[8] != 'T' || p[15] != 'Z' || memcmp(p + 16, ".json", 5) != 0)
            return -1;
        for (int f = 0; f < 6; f++) {
            v[f] = 0;
            for (int d = 0; d < width[f]; d++) {
                char c = p[at[f] + d];
                if (c < '0' || c > '9')
                    return -1;
                v[f] = v[f] * 10 + (c - '0');
            }
        }
        if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 ||
            v[4] > 59 || v[5] > 60)
            return -1;
        struct tm tm = { .tm_year = v[0] - 1900, .tm_mon = v[1] - 1, .tm_mday = v[2],
                         .tm_hour = v[3], .tm_min = v[4], .tm_sec = v[5] };
        time_t t = timegm(&tm);
        if (t < 0)
            return -1;
        *kind = (enum rp_kind)k;
        *ms = (uint64_t)t * 1000;
        return 0;
    }
    return -1;
}

/* Creates `dir` and its parents when missing. */
static int make_dir(const char *dir, char *err, size_t errlen)
{
    char p[PATH_MAX];
    struct stat st;

    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    snprintf(p, sizeof(p), "%s", dir);
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            fs_opts_fail(err, errlen, "create directory %s: %s", p, strerror(errno));
            return -1;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    if (stat(dir, &st) != 0) {
        fs_opts_fail(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fs_opts_fail(err, errlen, "%s is not a directory", dir);
        return -1;
    }
    return 0;
}

/* The report replaced whole: a reader sees the old one or the new one. */
static int write_atomic(const char *dir, const char *name, const char *text, size_t len,
                        char *err, size_t errlen)
{
    char path[PATH_MAX], why[PATH_MAX + 128];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (fs_atomic_write(path, text, len, 0644, why, sizeof(why)) != 0) {
        fs_opts_fail(err, errlen, "report %s", why);
        return -1;
    }
    return 0;
}

/* Removes the reports of `kind` whose name time is more than the retention
 * before `newest_ms`: with periods of one length, those that ended more
 * than the retention before the newest one's end. */
static void retention(struct fs_rp_reports *r, enum rp_kind kind, uint64_t newest_ms)
{
    uint64_t keep = (uint64_t)r->keep_s[kind] * 1000;
    struct dirent *e;
    DIR *d;

    if (keep == 0 || newest_ms <= keep)
        return;
    if ((d = opendir(r->dir)) == NULL) {
        r->n.retention_errors++;
        return;
    }
    while ((e = readdir(d)) != NULL) {
        enum rp_kind k;
        uint64_t ms;
        char path[PATH_MAX];
        if (parse_name(e->d_name, strlen(e->d_name), &k, &ms) != 0 || k != kind ||
            ms >= newest_ms - keep)
            continue;
        snprintf(path, sizeof(path), "%s/%s", r->dir, e->d_name);
        if (unlink(path) == 0)
            r->n.removed++;
        else if (errno != ENOENT)
            r->n.retention_errors++;
    }
    closedir(d);
}

/* Temporary files a crash left behind: ".<report name>.XXXXXX". */
static void remove_stale(const char *dir)
{
    struct dirent *e;
    DIR *d = opendir(dir);

    while (d && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        enum rp_kind k;
        uint64_t ms;
        char path[PATH_MAX];
        if (e->d_name[0] != '.' || len < 9 || e->d_name[len - 7] != '.' ||
            parse_name(e->d_name + 1, len - 8, &k, &ms) != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
}

/* Renders a report onto the queue of reports to write; when the queue is
 * full, the oldest waiting report is given up and counted. */
static int queue(struct fs_rp_reports *r, enum rp_kind kind, uint64_t name_ms,
                 const struct rp_acc *a, const struct rp_anoms *more)
{
    struct fs_wbuf b;

    if (rp_render(r, kind, a, more, &b) != 0)
        return -1;
    if (r->npending == RP_PENDING_MAX) {
        free(r->pending[0].text);
        memmove(r->pending, r->pending + 1, (RP_PENDING_MAX - 1) * sizeof(r->pending[0]));
        r->npending--;
        r->n.dropped++;
    }
    r->pending[r->npending++] = (struct rp_pending){ kind, name_ms, (char *)b.p, b.len };
    return 0;
}

/* Writes the waiting reports, oldest first; stops at the first failure. */
static int flush(struct fs_rp_reports *r, char *written, size_t cap, char *err, size_t errlen)
{
    while (r->npending) {
        struct rp_pending *p = &r->pending[0];
        char name[NAME_MAX_LEN];
        report_name(p->kind, p->name_ms, name, sizeof(name));
        if (make_dir(r->dir, err, errlen) != 0 ||
            write_atomic(r->dir, name, p->text, p->len, err, errlen) != 0) {
            r->n.write_errors++;
            return -1;
        }
        r->n.written++;
        if (written && cap)
            snprintf(written, cap, "%s/%s", r->dir, name);
        retention(r, p->kind, p->name_ms);
        free(p->text);
        memmove(r->pending, r->pending + 1, (r->npending - 1) * sizeof(r->pending[0]));
        r->npending--;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The API. */

struct fs_rp_reports *fs_rp_reports_new(const struct fs_rp_report_opts *o, char *err,
                                        size_t errlen)
{
    struct fs_rp_reports *r;

    if (o->dir == NULL || o->dir[0] == '\0') {
        fs_opts_fail(err, errlen, "no directory given");
        return NULL;
    }
    if (strlen(o->dir) + NAME_MAX_LEN + 2 > PATH_MAX) {
        fs_opts_fail(err, errlen, "directory name longer than %d bytes",
                     PATH_MAX - NAME_MAX_LEN - 2);
        return NULL;
    }
    if (o->utc_offset_s > 14 * 3600 || o->utc_offset_s < -14 * 3600) {
        fs_opts_fail(err, errlen, "UTC offset %d s is more than 14 hours",
                     (int)o->utc_offset_s);
        return NULL;
    }
    if (o->max_anomalies > RP_MAX_ANOMALIES) {
        fs_opts_fail(err, errlen, "at most %u anomalies per report, not %u",
                     RP_MAX_ANOMALIES, o->max_anomalies);
        return NULL;
    }
    if ((r = calloc(1, sizeof(*r))) == NULL || (r->dir = strdup(o->dir)) == NULL ||
        (r->sender = strdup(o->sender && o->sender[0] ? o->sender : "reporter")) == NULL) {
        fs_opts_fail(err, errlen, "out of memory");
        fs_rp_reports_free(r);
        return NULL;
    }
    for (size_t len = strlen(r->dir); len > 1 && r->dir[len - 1] == '/'; len--)
        r->dir[len - 1] = '\0';
    r->hourly = o->hourly;
    r->daily = o->daily;
    r->keep_s[RP_HOURLY] = o->keep_hourly_s;
    r->keep_s[RP_DAILY] = o->keep_daily_s;
    r->keep_s[RP_ONDEMAND] = o->keep_daily_s;
    r->utc_offset_s = o->utc_offset_s;
    r->max_anomalies = o->max_anomalies ? o->max_anomalies : 10000;
    if (make_dir(r->dir, err, errlen) != 0) {
        fs_rp_reports_free(r);
        return NULL;
    }
    remove_stale(r->dir);
    return r;
}

void rp_reports_reset(struct fs_rp_reports *r)
{
    rp_acc_clear(&r->acc);
    rp_anoms_clear(&r->period);
    for (size_t i = 0; i < r->npending; i++)
        free(r->pending[i].text);
    r->npending = 0;
    r->day_open = r->day_seen = false;
    r->day = 0;
}

void fs_rp_reports_free(struct fs_rp_reports *r)
{
    if (r == NULL)
        return;
    rp_reports_reset(r);
    free(r->dir);
    free(r->sender);
    free(r);
}

/* Invalid UTF-8 in the strings of an anomaly becomes '?', in place (the
 * JSON escaper handles the rest); then repeated extra keys are dropped, the
 * first kept, so that the JSON object has unique keys. */
static void clean_anomaly(struct fs_anomaly *a)
{
    unsigned n = a->nextra < FS_ANOMALY_EXTRA ? a->nextra : FS_ANOMALY_EXTRA, k = 0;
    char *s[1 + FS_ANOMALY_EXTRA] = { a->metric };
    size_t cap[1 + FS_ANOMALY_EXTRA] = { sizeof(a->metric) };

    for (unsigned i = 0; i < n; i++) {
        s[1 + i] = a->extra[i].key;
        cap[1 + i] = sizeof(a->extra[i].key);
    }
    for (unsigned i = 0; i < 1 + n; i++) {
        unsigned char *p = (unsigned char *)s[i];
        size_t len = strnlen(s[i], cap[i]);
        for (size_t j = 0; j < len;) {
            size_t l = rp_utf8_len(p + j, len - j);
            if (l == 0)
                p[j++] = '?';
            else
                j += l;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        bool dup = false;
        for (unsigned j = 0; j < k && !dup; j++)
            dup = strncmp(a->extra[j].key, a->extra[i].key, sizeof(a->extra[0].key)) == 0;
        if (!dup)
            a->extra[k++] = a->extra[i];
    }
    a->nextra = (uint8_t)k;
}

void fs_rp_reports_anomaly(struct fs_rp_reports *r, const struct fs_anomaly *a)
{
    struct fs_anomaly c;
    char line[FS_ANOMALY_JSON_MAX];
    char *text = NULL;
    int n;

    if (fs_anomaly_class_name(a->cls) == NULL || fs_severity_name(a->severity) == NULL) {
        r->n.rejected++;
        return;
    }
    c = *a;
    clean_anomaly(&c);
    r->n.anomalies++;
    r->period.total++;
    r->period.by_class[c.cls]++;
    r->period.by_sev[c.severity]++;
    n = fs_anomaly_json(&c, line, sizeof(line));
    if (n >= 0 && (text = malloc((size_t)n + 1)) != NULL)
        memcpy(text, line, (size_t)n + 1);
    if (text == NULL || !rp_anoms_push(&r->period, text, r->max_anomalies)) {
        free(text);
        r->period.unlisted++;
        r->n.anomalies_unlisted++;
    }
}

static int64_t day_of(const struct fs_rp_reports *r, uint64_t ms)
{
    return ((int64_t)ms + (int64_t)r->utc_offset_s * 1000) / (int64_t)RP_DAY_MS;
}

static uint64_t day_start(const struct fs_rp_reports *r, int64_t day)
{
    return (uint64_t)(day * (int64_t)RP_DAY_MS - (int64_t)r->utc_offset_s * 1000);
}

static int close_day(struct fs_rp_reports *r)
{
    int rc = r->daily ? queue(r, RP_DAILY, r->acc.start_ms, &r->acc, NULL) : 0;
    rp_acc_clear(&r->acc);
    r->day_open = false;
    return rc;
}

int fs_rp_reports_summary(struct fs_rp_reports *r, const struct fs_summary *s, char *written,
                          size_t cap, char *err, size_t errlen)
{
    struct rp_acc period;
    int64_t d;
    bool late;

    if (written && cap)
        written[0] = '\0';
    if (s->ts_ms < RP_MIN_MS || s->ts_ms > RP_MAX_MS || s->end_ms < s->ts_ms ||
        s->end_ms > RP_MAX_MS) {
        r->n.rejected++;
        fs_opts_fail(err, errlen, "summary period [%llu, %llu) out of range",
                     (unsigned long long)s->ts_ms, (unsigned long long)s->end_ms);
        return -1;
    }
    r->n.summaries++;
    d = day_of(r, s->ts_ms);
    /* Before the open day, or in a day already closed: a replay overlap.
     * Its period report is written; the day's totals are not touched. */
    late = r->day_seen && (d < r->day || (d == r->day && !r->day_open));
    if (late)
        r->n.late++;
    if (r->day_open && d > r->day && close_day(r) != 0)
        goto oom;

    if (r->hourly) {
        memset(&period, 0, sizeof(period));
        period.start_ms = s->ts_ms;
        period.end_ms = s->end_ms;
        int rc = acc_add(&period, s) != 0 || queue(r, RP_HOURLY, s->ts_ms, &period, &r->period);
        rp_acc_clear(&period);
        if (rc != 0)
            goto oom;
    }

    if (!late) {
        if (!r->day_open) {
            r->day = d;
            r->day_open = r->day_seen = true;
            r->acc.start_ms = day_start(r, d);
            r->acc.end_ms = r->acc.start_ms + RP_DAY_MS;
        }
        if (acc_add(&r->acc, s) != 0)
            goto oom;
    }
    /* The period's anomalies belong to the day it is in (or, late, to the
     * day being accumulated). */
    anoms_move(r, &r->acc.an, &r->period);
    if (r->day_open && s->end_ms >= r->acc.end_ms && close_day(r) != 0)
        goto oom;
    return flush(r, written, cap, err, errlen);
oom:
    fs_opts_fail(err, errlen, "out of memory");
    return -1;
}

int fs_rp_reports_now(struct fs_rp_reports *r, uint64_t now_ms, char *written, size_t cap,
                      char *err, size_t errlen)
{
    struct rp_acc view = r->acc;

    if (written && cap)
        written[0] = '\0';
    if (now_ms > RP_MAX_MS) {
        fs_opts_fail(err, errlen, "time %llu out of range",
                     (unsigned long long)now_ms);
        return -1;
    }
    if (r->day_open)
        view.end_ms = view.last_ms;
    else
        view.start_ms = view.end_ms = r->day_seen ? day_start(r, r->day + 1) : 0;
    if (queue(r, RP_ONDEMAND, now_ms, &view, &r->period) != 0) {
        fs_opts_fail(err, errlen, "out of memory");
        return -1;
    }
    return flush(r, written, cap, err, errlen);
}

int fs_rp_reports_flush(struct fs_rp_reports *r, char *written, size_t cap, char *err,
                        size_t errlen)
{
    if (written && cap)
        written[0] = '\0';
    return flush(r, written, cap, err, errlen);
}

size_t fs_rp_reports_waiting(const struct fs_rp_reports *r)
{
    return r->npending;
}

const struct fs_rp_report_counters *fs_rp_reports_counters(const struct fs_rp_reports *r)
{
    return &r->n;
}
