/* stats: see stats.h. */
#include "stats.h"

#include <string.h>

/* Buckets from a table answer (tens of microseconds) to the quota and SPF
 * timeouts (1 and 5 s): where Postfix's smtpd waits on us. */
static const double duration_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                         0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

static const char *const policy_names[STATS_POLICIES] = {"ratelimit", "spf", "quota", "greylist", "list"};
static const char *const action_names[STATS_ACTIONS] = {"dunno", "prepend", "defer", "reject", "other"};
static const char *const state_names[STATS_STATES] = {"RCPT", "END-OF-MESSAGE", "other"};

/* Postfix's access(5) actions by their first word; a numeric code by its
 * first digit. Anything else (OK, HOLD, DISCARD ...: not ours) is other. */
static const struct {
    const char *word;
    enum stats_action kind;
} action_words[] = {
    {"DUNNO", STATS_DUNNO},
    {"PREPEND", STATS_PREPEND},
    {"DEFER", STATS_DEFER},
    {"DEFER_IF_PERMIT", STATS_DEFER},
    {"DEFER_IF_REJECT", STATS_DEFER},
    {"REJECT", STATS_REJECT},
};

enum stats_action stats_action_kind(const char *action)
{
    if (action[0] == '\0')
        return STATS_DUNNO;         /* engine.c: an empty action is DUNNO */
    if (action[0] == '4' || action[0] == '5')
        return action[0] == '4' ? STATS_DEFER : STATS_REJECT;
    size_t len = strcspn(action, " \t");
    for (size_t i = 0; i < sizeof action_words / sizeof action_words[0]; i++)
        if (strlen(action_words[i].word) == len && strncasecmp(action, action_words[i].word, len) == 0)
            return action_words[i].kind;
    return STATS_OTHER;
}

static enum stats_state state_kind(const char *state)
{
    for (int i = 0; i < STATS_STATE_OTHER; i++)
        if (strcmp(state, state_names[i]) == 0)
            return (enum stats_state)i;
    return STATS_STATE_OTHER;
}

void stats_init(policy_stats *s, double start_time)
{
    memset(s, 0, sizeof *s);
    prom_histogram_init(&s->duration, duration_bounds, sizeof duration_bounds / sizeof duration_bounds[0]);
    s->start_time = start_time;
    s->changed = 1;
}

void stats_free(policy_stats *s)
{
    prom_histogram_free(&s->duration);
}

void stats_policy_answer(policy_stats *s, enum stats_policy policy, const char *action)
{
    if (s == NULL)
        return;
    s->actions[policy][stats_action_kind(action)]++;
    s->changed = 1;
}

void stats_request(policy_stats *s, const char *protocol_state, const char *action, double seconds)
{
    if (s == NULL)
        return;
    s->requests[state_kind(protocol_state)][stats_action_kind(action)]++;
    prom_histogram_observe(&s->duration, seconds);
    s->changed = 1;
}

void stats_bad_request(policy_stats *s, double seconds)
{
    if (s == NULL)
        return;
    s->bad_requests++;
    prom_histogram_observe(&s->duration, seconds);
    s->changed = 1;
}

void stats_format(policy_stats *s, buf *out)
{
    prom_family(out, "emailng_policyd_requests_total", "counter",
                "Policy requests answered, by Postfix's protocol state and the kind of action it got.");
    for (int st = 0; st < STATS_STATES; st++)
        for (int a = 0; a < STATS_ACTIONS; a++) {
            const char *labels[] = {"state", state_names[st], "action", action_names[a], NULL};
            prom_sample_u(out, "emailng_policyd_requests_total", labels, s->requests[st][a]);
        }
    prom_family(out, "emailng_policyd_actions_total", "counter",
                "What each policy answered at RCPT, in order until one refused (off or not applicable: dunno).");
    for (int p = 0; p < STATS_POLICIES; p++)
        for (int a = 0; a < STATS_ACTIONS; a++) {
            const char *labels[] = {"policy", policy_names[p], "action", action_names[a], NULL};
            prom_sample_u(out, "emailng_policyd_actions_total", labels, s->actions[p][a]);
        }
    prom_family(out, "emailng_policyd_bad_requests_total", "counter",
                "Malformed policy requests (answered with on_error).");
    prom_sample_u(out, "emailng_policyd_bad_requests_total", NULL, s->bad_requests);
    prom_family(out, "emailng_policyd_request_duration_seconds", "histogram",
                "Time from a request's first byte to its answer.");
    prom_histogram_format(out, "emailng_policyd_request_duration_seconds", NULL, &s->duration);
    prom_family(out, "emailng_policyd_start_time_seconds", "gauge", "When emailng-policyd started, as Unix time.");
    prom_sample_d(out, "emailng_policyd_start_time_seconds", NULL, s->start_time);
    s->changed = 0;
}
