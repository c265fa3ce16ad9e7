/* socket.c - see socket.h. */
#include "socket.h"

size_t tl_socket_recv_message(void *sock, zmq_msg_t parts[2])
{
    size_t n_parts = 0;
    int more = 1;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, 0) < 0) {
            zmq_msg_close(&part);
            break;
        }
        more = zmq_msg_more(&part);
        if (n_parts < 2)
            parts[n_parts] = part;
        else
            zmq_msg_close(&part);
        n_parts++;
    }
    return n_parts;
}
