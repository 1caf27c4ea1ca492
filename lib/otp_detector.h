/*  otp_detector - when a silent peer is down: the failure detector's policy.

    What it weighs (docs/architecture.md, Failure detection):
    - a peer's silence, counting only the time we ourselves were running:
      a tick of ours that comes late means this process was stopped or
      starved, and that stall is not the peer's silence (Lifeguard's
      local-health awareness);
    - a local-health score (0..OTP_DETECTOR_SCORE_MAX) that rises with each
      stall of ours (a step, and one more per 250 ms of it) and falls a
      step per calm OTP_DETECTOR_CALM_MS; a peer says its own
      score in its heartbeats, and the time-out for it stretches with the
      larger of the two, so a node that knows it is slow is given time,
      and a node that is slow itself does not accuse others;
    - a heartbeat interval that grows with the number of peers so that a
      node sends at most `rate` heartbeats a second in all; each heartbeat
      says the interval its sender keeps, and the receiver's time-out for
      that peer scales with it.
    Given explicitly (`fixed`), the heartbeat and time-out are upper
    bounds: neither stretches. Pure arithmetic, so that it can be tested.   */
#ifndef OTP_DETECTOR_H
#define OTP_DETECTOR_H

#include <stdbool.h>
#include <stdint.h>

#define OTP_DETECTOR_SCORE_MAX 8
#define OTP_DETECTOR_RATE 50        //  heartbeats a second a node sends, in all
#define OTP_DETECTOR_SLACK_MS 50    //  lateness of a tick that is not yet a stall
#define OTP_DETECTOR_CALM_MS 2000   //  on time this long: the score falls a step

typedef struct {
    int heartbeat_ms;               //  base interval (and floor)
    int timeout_ms;                 //  base time-out
    bool fixed;                     //  the operator set them: upper bounds
    int rate;                       //  heartbeat budget, per second
    int tick_ms;                    //  how often otp_detector_tick is called
    int64_t last_tick;
    int64_t stalled_ms;             //  our own stalls so far, in all
    int score;                      //  local health: 0 is healthy
    int64_t calm_since;             //  last stall or score step
    uint64_t stalls;                //  ticks found late
    int64_t longest_stall_ms;
} otp_detector_t;

void otp_detector_init (otp_detector_t *self, int heartbeat_ms, int timeout_ms, bool fixed,
                        int tick_ms);
//  Called every tick_ms; returns how long past its time this tick came,
//  beyond the slack (0 when on time), and adds that to stalled_ms.
int64_t otp_detector_tick (otp_detector_t *self, int64_t now);
//  How often to beat each peer when there are `peers` of them.
int otp_detector_interval (const otp_detector_t *self, int peers);
//  How long a peer may stay silent: `announced_ms` is the interval it said
//  it beats at (0: not said yet), `peer_score` its local-health score.
int64_t otp_detector_timeout (const otp_detector_t *self, int announced_ms, int peer_score);
//  A peer's silence since `last_in`, when stalled_ms was `stalled_at`
//  then: our stalls in between do not count.
int64_t otp_detector_silence (const otp_detector_t *self, int64_t now, int64_t last_in,
                              int64_t stalled_at);

void otp_detector_test (void);

#endif
