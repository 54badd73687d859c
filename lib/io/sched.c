/* SPDX-License-Identifier: MIT */
#include <systemd/sd-event.h>

#include "cdp/clock.h"
#include "cdp/sched.h"

/* A backup slot is not a precise instant: let sd-event coalesce wake-ups. */
#define SCHED_ACCURACY_USEC (1 * USEC_PER_SEC)

struct SchedJob {
        sd_event *event;
        Schedule schedule;
        TimeZone *tz;
        uint64_t splay_usec;
        time_t next_slot;
        sd_event_source *timer;
        SchedFireFn fire;
        void *userdata;
};

static int job_arm(SchedJob *j, time_t after) {
        time_t slot;
        int r;

        r = schedule_next_in(&j->schedule, j->tz, after, &slot);
        if (r < 0)
                return r;
        j->next_slot = slot;
        r = sd_event_source_set_time(j->timer, (uint64_t) slot * USEC_PER_SEC + j->splay_usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(j->timer, SD_EVENT_ONESHOT);
        return r;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        SchedJob *j = userdata;
        time_t slot = j->next_slot;

        (void) s;
        (void) usec;
        /* Re-arm first: the callback may free the job. */
        if (job_arm(j, slot) < 0)
                (void) sd_event_source_set_enabled(j->timer, SD_EVENT_OFF);
        j->fire(j, slot, j->userdata);
        return 0;
}

int sched_job_new(sd_event *event, const Schedule *s, const char *tz, uint64_t splay_usec, SchedFireFn fire,
                  void *userdata, SchedJob **ret) {
        _cleanup_(sched_job_freep) SchedJob *j = NULL;
        uint64_t now = clock_now(clock_real(), CLOCK_REALTIME);
        int r;

        if (!event || !s || !fire || !ret)
                return -EINVAL;
        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->event = sd_event_ref(event);
        j->schedule = *s;
        j->splay_usec = splay_usec;
        j->fire = fire;
        j->userdata = userdata;
        r = tz_load(tz, &j->tz);
        if (r < 0)
                return r;
        r = sd_event_add_time(event, &j->timer, CLOCK_REALTIME, 0, SCHED_ACCURACY_USEC, on_timer, j);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(j->timer, "sched-job");
        /* The slot whose fire time (slot + splay) is still ahead. */
        r = job_arm(j, (time_t) ((now - MIN(now, splay_usec)) / USEC_PER_SEC));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(j);
        return 0;
}

SchedJob *sched_job_free(SchedJob *j) {
        if (!j)
                return NULL;
        sd_event_source_disable_unref(j->timer);
        tz_free(j->tz);
        sd_event_unref(j->event);
        free(j);
        return NULL;
}

time_t sched_job_next_slot(const SchedJob *j) {
        return j->next_slot;
}

uint64_t sched_job_next_fire_usec(const SchedJob *j) {
        return (uint64_t) j->next_slot * USEC_PER_SEC + j->splay_usec;
}

int sched_job_prev_slot(const SchedJob *j, time_t now, time_t *ret) {
        return schedule_prev_in(&j->schedule, j->tz, now, ret);
}
