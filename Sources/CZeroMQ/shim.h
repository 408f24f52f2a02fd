#ifndef LOYALTY_CZEROMQ_SHIM_H
#define LOYALTY_CZEROMQ_SHIM_H
// Thin view of libzmq for Swift. Everything that uses it lives in the ZeroMQ target.
#include <zmq.h>
#include <errno.h>
#endif
