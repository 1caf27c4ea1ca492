#include "otp_detector.h"
#include <assert.h>
#include <stddef.h>

void
otp_detector_init (otp_detector_t *self, int heartbeat_ms, int timeout_ms, bool fixed,
                   int tick_ms)
{
    *self = (otp_detector_t) {
        .heartbeat_ms = heartbeat_ms, .timeout_ms = timeout_ms, .fixed = fixed,
        .rate = OTP_DETECTOR_RATE, .tick_ms = tick_ms
    };
}

int64_t
otp_detector_tick (otp_detector_t *self, int64_t now)
{
    int64_t late = 0;
    if (self->last_tick) {
        late = now - self->last_tick - self->tick_ms - OTP_DETECTOR_SLACK_MS;
        if (late < 0)
            late = 0;
    }
    self->last_tick = now;
    if (late > 0) {
        self->stalled_ms += late;
        self->stalls++;
        if (late > self->longest_stall_ms)
            self->longest_stall_ms = late;
        //  A long stall says more than a short one: a step for each
        //  quarter second of it.
        self->score += 1 + (int) (late / 250);
        if (self->score > OTP_DETECTOR_SCORE_MAX)
            self->score = OTP_DETECTOR_SCORE_MAX;
        self->calm_since = now;
    }
    else
    if (self->score > 0 && now - self->calm_since >= OTP_DETECTOR_CALM_MS) {
        //  Calm for a while: one step back towards healthy. Slowly, for a
        //  starved node stalls in bursts.
        self->score--;
        self->calm_since = now;
    }
    return late;
}

int
otp_detector_interval (const otp_detector_t *self, int peers)
{
    if (self->fixed || peers <= 0)
        return self->heartbeat_ms;
    int64_t spread = (int64_t) peers * 1000 / self->rate;
    return spread > self->heartbeat_ms? (int) (spread < 600000? spread: 600000): self->heartbeat_ms;
}

int64_t
otp_detector_timeout (const otp_detector_t *self, int announced_ms, int peer_score)
{
    int64_t timeout = self->timeout_ms;
    if (self->fixed)
        return timeout;
    if (announced_ms > self->heartbeat_ms)
        timeout = timeout * announced_ms / self->heartbeat_ms;
    int score = self->score > peer_score? self->score: peer_score;
    if (score > OTP_DETECTOR_SCORE_MAX)
        score = OTP_DETECTOR_SCORE_MAX;
    return timeout * (1 + score);
}

int64_t
otp_detector_silence (const otp_detector_t *self, int64_t now, int64_t last_in,
                      int64_t stalled_at)
{
    int64_t silence = now - last_in - (self->stalled_ms - stalled_at);
    return silence > 0? silence: 0;
}

void
otp_detector_test (void)
{
    otp_detector_t d;
    otp_detector_init (&d, 200, 800, false, 100);
    //  Small clusters beat at the base interval; large ones spread the budget.
    assert (otp_detector_interval (&d, 1) == 200);
    assert (otp_detector_interval (&d, 10) == 200);
    assert (otp_detector_interval (&d, 100) == 2000);
    assert (otp_detector_interval (&d, 300) == 6000);
    //  The time-out follows what the peer said it keeps.
    assert (otp_detector_timeout (&d, 0, 0) == 800);
    assert (otp_detector_timeout (&d, 200, 0) == 800);
    assert (otp_detector_timeout (&d, 2000, 0) == 8000);
    assert (otp_detector_timeout (&d, 50, 0) == 800);
    //  On-time ticks: no stall, healthy.
    int64_t t = 1000;
    for (int i = 0; i < 20; i++, t += 100)
        assert (otp_detector_tick (&d, t) == 0);
    assert (d.score == 0 && d.stalled_ms == 0);
    //  A 900 ms gap: 750 ms of it is our own stall, not the peers' silence.
    int64_t last_in = t - 100, stalled_at = d.stalled_ms;
    t += 800;
    assert (otp_detector_tick (&d, t) == 750);
    assert (d.score == 4 && d.stalls == 1);
    assert (otp_detector_silence (&d, t, last_in, stalled_at) == 150);
    //  A slow peer (its score) or a slow self stretches the time-out.
    assert (otp_detector_timeout (&d, 200, 0) == 4000);
    assert (otp_detector_timeout (&d, 200, 6) == 5600);
    assert (otp_detector_timeout (&d, 200, 99) == 800 * (1 + OTP_DETECTOR_SCORE_MAX));
    //  A short stall is one step.
    otp_detector_tick (&d, t += 260);
    assert (d.score == 5);
    //  It heals a step per calm period.
    for (int i = 0; i < 5 * OTP_DETECTOR_CALM_MS / 100 + 1; i++)
        otp_detector_tick (&d, t += 100);
    assert (d.score == 0);
    //  Set by the operator: upper bounds, nothing stretches.
    otp_detector_t fixed;
    otp_detector_init (&fixed, 50, 200, true, 25);
    fixed.score = 5;
    assert (otp_detector_interval (&fixed, 300) == 50);
    assert (otp_detector_timeout (&fixed, 5000, 8) == 200);
}
