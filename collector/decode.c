/*
 * decode.c - fs_decode(), the one entry point for export datagrams, and the
 * decode context the per-format decoders (v5.c, v9.c, ipfix.c) write into:
 * flow batches, counters and rate-limited error logging.
 */
#include <stdio.h>
#include <string.h>

#include "exporter.h"

/* Per exporter, at most LOG_LINES lines in each LOG_WINDOW_MS; what is held
 * back is summed up in one line when the window is over. */
#define LOG_LINES 10
#define LOG_WINDOW_MS 10000
#define LOG_LINE_MAX 512

static const char *const err_names[FS_ERR_COUNT] = {
    [FS_ERR_SHORT_HEADER] = "short_header",
    [FS_ERR_BAD_VERSION] = "bad_version",
    [FS_ERR_BAD_COUNT] = "bad_count",
    [FS_ERR_BAD_LENGTH] = "bad_length",
    [FS_ERR_SET_LENGTH] = "set_length",
    [FS_ERR_BAD_TEMPLATE] = "bad_template",
    [FS_ERR_FIELD_LENGTH] = "field_length",
    [FS_ERR_BAD_SET_ID] = "bad_set_id",
    [FS_ERR_PENDING_DROPPED] = "pending_dropped",
};

const char *fs_err_name(enum fs_err_kind kind)
{
    if ((unsigned)kind >= FS_ERR_COUNT)
        return "unknown";
    return err_names[kind];
}

uint64_t fs_counters_errors(const struct fs_counters *c)
{
    uint64_t n = 0;
    int i;

    for (i = 0; i < FS_ERR_COUNT; i++)
        n += c->errors[i];
    return n;
}

int fs_decode(struct fs_decoder *d, const fs_ip *exporter, uint64_t now_ms,
              const uint8_t *buf, size_t len, fs_flow_sink sink, void *arg)
{
    struct fs_decode_ctx *c = fs_decoder_ctx(d);
    int rc;

    c->exp = fs_decoder_exporter(d, exporter, now_ms);
    if (!c->exp)
        return -1;
    c->now_ms = now_ms;
    c->sink = sink;
    c->sink_arg = arg;
    c->nflows = 0;
    c->nbatch = 0;
    FS_COUNT(c, datagrams, 1);
    FS_COUNT(c, bytes, len);

    if (len < 2) {
        rc = fs_ctx_error(c, FS_ERR_SHORT_HEADER, "%zu bytes, no room for a version", len);
    } else {
        uint16_t version = fs_get16(buf);

        switch (version) {
        case 1:
        case 5:
        case 7:
            rc = fs_v5_decode(c, buf, len);
            break;
        case 9:
            rc = fs_v9_decode(c, buf, len);
            break;
        case 10:
            rc = fs_ipfix_decode(c, buf, len);
            break;
        default:
            rc = fs_ctx_error(c, FS_ERR_BAD_VERSION, "version %u in a %zu-byte datagram",
                              version, len);
            break;
        }
    }
    fs_ctx_flush(c);
    return rc < 0 ? -1 : (int)c->nflows;
}

struct fs_flow *fs_ctx_flow(struct fs_decode_ctx *c)
{
    struct fs_flow *f;

    if (c->nbatch == FS_CTX_BATCH)
        fs_ctx_flush(c);
    f = &c->batch[c->nbatch];
    /* Slots are cleared in bulk by fs_ctx_flush(): one memset of the used
     * part costs a fraction of one per flow (docs/performance.md). Only a
     * slot handed out before and never committed is still dirty here. */
    if (c->nbatch < c->ndirty)
        fs_flow_init(f);
    else
        c->ndirty = c->nbatch + 1;
    f->exporter = c->exp->addr;
    return f;
}

void fs_ctx_commit(struct fs_decode_ctx *c)
{
    c->nbatch++;
    c->nflows++;
    c->exp->counters.flows++;
    c->totals->flows++;
}

void fs_ctx_flush(struct fs_decode_ctx *c)
{
    if (c->nbatch && c->sink)
        c->sink(c->sink_arg, c->batch, c->nbatch);
    memset(c->batch, 0, c->ndirty * sizeof(c->batch[0]));
    c->nbatch = 0;
    c->ndirty = 0;
}

void fs_ctx_count(struct fs_decode_ctx *c, size_t field, uint64_t n)
{
    *(uint64_t *)((char *)&c->exp->counters + field) += n;
    *(uint64_t *)((char *)c->totals + field) += n;
}

void fs_exporter_log_suppressed(const struct fs_decoder *d, struct fs_exporter *e,
                       uint64_t now_ms, bool force)
{
    const struct fs_decoder_config *cfg = fs_decoder_config(d);
    char addr[FS_IP_STRLEN], line[LOG_LINE_MAX];

    if (!e->log_suppressed)
        return;
    if (!force && now_ms >= e->log_tokens_ms && now_ms - e->log_tokens_ms < LOG_WINDOW_MS)
        return;
    if (cfg->log) {
        snprintf(line, sizeof(line), "exporter %s: %u more error lines suppressed",
                 fs_ip_format(&e->addr, addr), e->log_suppressed);
        cfg->log(cfg->log_arg, line);
    }
    e->log_suppressed = 0;
}

/* Opens a new window when the last one is over (or the clock went back,
 * as when a capture is replayed) and says whether one more line fits. */
static bool log_allowed(const struct fs_decoder *d, struct fs_exporter *e, uint64_t now_ms)
{
    if (now_ms < e->log_tokens_ms || now_ms - e->log_tokens_ms >= LOG_WINDOW_MS) {
        fs_exporter_log_suppressed(d, e, now_ms, true);
        e->log_tokens_ms = now_ms;
        e->log_lines = 0;
    }
    if (e->log_lines >= LOG_LINES) {
        e->log_suppressed++;
        return false;
    }
    e->log_lines++;
    return true;
}

int fs_ctx_error(struct fs_decode_ctx *c, enum fs_err_kind kind, const char *fmt, ...)
{
    const struct fs_decoder_config *cfg = fs_decoder_config(c->d);
    char addr[FS_IP_STRLEN], detail[LOG_LINE_MAX / 2], line[LOG_LINE_MAX];
    va_list ap;

    if ((unsigned)kind >= FS_ERR_COUNT)
        return -1;
    c->exp->counters.errors[kind]++;
    c->totals->errors[kind]++;
    if (!cfg->log || !log_allowed(c->d, c->exp, c->now_ms))
        return -1;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    snprintf(line, sizeof(line), "exporter %s: %s: %s", fs_ip_format(&c->exp->addr, addr),
             fs_err_name(kind), detail);
    cfg->log(cfg->log_arg, line);
    return -1;
}
