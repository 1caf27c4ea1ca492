/*  otp - the otp-labs library that every binary links.                     */
#ifndef OTP_H
#define OTP_H

#include <czmq.h>
#include <inttypes.h>
#include "otp_log.h"
#include "otp_opt.h"
#include "otp_name.h"
#include "otp_cookie.h"
#include "otp_kdf.h"
#include "otp_auth.h"
#include "otp_gossip.h"
#include "otp_proto.h"
#include "otp_signal.h"
#include "otp_monitor.h"
#include "otp_limits.h"
#include "otp_detector.h"
#include "otp_gate.h"
#include "otp_zmtp.h"
#include "otp_state.h"
#include "otp_spawn.h"
#include "otp_request.h"
#include "otp_client.h"
#include "otp_registry.h"
#include "otp_childspec.h"
#include "otp_supervisor.h"
#include "otp_metrics.h"

#endif
