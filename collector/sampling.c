/*
 * sampling.c - which sampling rate applies to a flow, and scaling by it.
 *
 * Precedence, strongest first: a configured override; a rate carried in the
 * data record itself (or the v5 header); the rate announced for the record's
 * sampler id; the rate announced for the whole domain; the rate configured
 * for this exporter; the decoder's default. Otherwise the rate is unknown and
 * the flow is marked so rather than silently read as unsampled.
 */
#include "exporter.h"

void fs_sampling_set(struct fs_domain *dom, bool has_sampler, uint32_t sampler,
                     uint32_t rate)
{
    struct fs_sampling *s = &dom->sampling;
    unsigned i;

    if (!has_sampler) {
        s->domain_rate = rate;
        return;
    }
    for (i = 0; i < s->nsamplers; i++) {
        if (s->samplers[i].id == sampler) {
            s->samplers[i].rate = rate;
            return;
        }
    }
    if (s->nsamplers == FS_SAMPLERS_MAX) {
        /* Forget the sampler announced longest ago. */
        for (i = 1; i < FS_SAMPLERS_MAX; i++)
            s->samplers[i - 1] = s->samplers[i];
        s->nsamplers--;
    }
    s->samplers[s->nsamplers].id = sampler;
    s->samplers[s->nsamplers].rate = rate;
    s->nsamplers++;
}

uint32_t fs_sampling_rate(const struct fs_decode_ctx *c, const struct fs_domain *dom,
                          bool has_sampler, uint32_t sampler, uint32_t record_rate)
{
    const struct fs_exporter *e = c->exp;

    if (e->config_override && e->config_rate)
        return e->config_rate;
    if (record_rate)
        return record_rate;
    if (dom) {
        if (has_sampler) {
            unsigned i;

            for (i = 0; i < dom->sampling.nsamplers; i++)
                if (dom->sampling.samplers[i].id == sampler && dom->sampling.samplers[i].rate)
                    return dom->sampling.samplers[i].rate;
        }
        if (dom->sampling.domain_rate)
            return dom->sampling.domain_rate;
    }
    if (e->config_rate)
        return e->config_rate;
    return fs_decoder_config(c->d)->default_sampling;
}

/* Saturates rather than wrapping: a huge rate times a 64-bit counter must not
 * turn into a small number. */
static uint64_t scale(uint64_t v, uint32_t rate)
{
    uint64_t r;

    if (__builtin_mul_overflow(v, (uint64_t)rate, &r))
        return UINT64_MAX;
    return r;
}

void fs_flow_apply_sampling(struct fs_decode_ctx *c, struct fs_flow *f, uint32_t rate)
{
    if (!rate) {
        f->flags |= FS_FLOW_SAMPLING_UNKNOWN;
        FS_COUNT(c, sampling_unknown, 1);
        return;
    }
    if (rate != 1) {
        f->packets = scale(f->packets, rate);
        f->bytes = scale(f->bytes, rate);
        f->rev_packets = scale(f->rev_packets, rate);
        f->rev_bytes = scale(f->rev_bytes, rate);
    }
    f->sampling_rate = rate;
    FS_FLOW_SET(f, FS_F_SAMPLING);
}
