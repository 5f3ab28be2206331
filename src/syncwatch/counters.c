/* counters: see counters.h. */
#include "counters.h"

#include "promtext.h"

static const struct {
    const char *action, *result;
} outcomes[SW_OUTCOMES] = {
    [SW_END_KILLED] = {"end", "killed"},
    [SW_END_FAILED] = {"end", "failed"},
    [SW_RETRY_REQUESTED] = {"retry", "requested"},
    [SW_RETRY_FAILED] = {"retry", "failed"},
    [SW_RETRY_SKIPPED] = {"retry", "skipped"},
};

void sw_count(struct sw_counters *c, enum sw_outcome what)
{
    c->n[what]++;
    c->changed = 1;
}

void sw_format(struct sw_counters *c, buf *out)
{
    prom_family(out, "emailng_syncwatch_interventions_total", "counter",
                "Stalled dsync runs ended (action end) and syncs asked again of the partner (action retry).");
    for (int i = 0; i < SW_OUTCOMES; i++) {
        const char *labels[] = {"action", outcomes[i].action, "result", outcomes[i].result, NULL};
        prom_sample_u(out, "emailng_syncwatch_interventions_total", labels, c->n[i]);
    }
    c->changed = 0;
}
