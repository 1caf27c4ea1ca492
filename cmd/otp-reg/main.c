#include "otp.h"
int main (void) { otp_fatal ("not yet"); }
