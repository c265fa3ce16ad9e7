/* socket.h - receiving stream-protocol messages from a ZeroMQ socket. */
#ifndef TL_SOCKET_H
#define TL_SOCKET_H

#include <stddef.h>
#include <zmq.h>

/* Receive one multipart message from sock: its first two parts go to parts[0]
 * and parts[1] (the caller closes min(count, 2) of them), any further parts are
 * received and dropped (a protocol message has at most two; the count lets the
 * caller refuse it). Returns the number of parts, 0 when nothing was received. */
size_t tl_socket_recv_message(void *sock, zmq_msg_t parts[2]);

#endif
