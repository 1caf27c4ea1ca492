/*  Restart intensity (OTP's MaxR in MaxT): the restarts of the last period,
    oldest first, and whether one more is one too many.                    */
#include "sup.h"

struct _intensity_t {
    int max;
    int period_ms;
    int64_t *times;                 //  restarts within the period, oldest first
    size_t count, capacity;
};

intensity_t *
intensity_new (int max, int period_ms)
{
    intensity_t *self = (intensity_t *) zmalloc (sizeof (intensity_t));
    self->max = max;
    self->period_ms = period_ms;
    return self;
}

void
intensity_destroy (intensity_t **self_p)
{
    intensity_t *self = *self_p;
    if (self) {
        free (self->times);
        free (self);
        *self_p = NULL;
    }
}

void
intensity_set (intensity_t *self, int max, int period_ms)
{
    self->max = max;
    self->period_ms = period_ms;
}

bool
intensity_restart (intensity_t *self)
{
    int64_t now = zclock_mono ();
    size_t old = 0;
    while (old < self->count && now - self->times [old] >= self->period_ms)
        old++;
    if (old) {
        memmove (self->times, self->times + old, (self->count - old) * sizeof (int64_t));
        self->count -= old;
    }
    if (self->count == self->capacity) {
        self->capacity = self->capacity? self->capacity * 2: 8;
        self->times = (int64_t *) realloc (self->times, self->capacity * sizeof (int64_t));
        assert (self->times);
    }
    self->times [self->count++] = now;
    return (int) self->count > self->max;
}

void
intensity_reset (intensity_t *self)
{
    self->count = 0;
}

int
intensity_max (intensity_t *self)
{
    return self->max;
}

int
intensity_period_ms (intensity_t *self)
{
    return self->period_ms;
}
