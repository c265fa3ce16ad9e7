/* fuzz_wire.c - libFuzzer target for the stream protocol's decoder.
 *
 * Whatever bytes arrive as a header: tl_wire_decode() returns a status, never
 * crashes, never reads outside the input, never leaks (built with ASan and
 * UBSan); an accepted header re-encodes to a header that decodes to the same
 * message (encode/decode are inverse on what decode accepts), and the parts
 * check answers for any payload size.
 *
 * Built by scripts/fuzz.sh with clang -fsanitize=fuzzer,address,undefined;
 * scripts/test.sh runs it for a short time from the seed corpus in
 * tests/fuzz/wire_corpus/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tl_wire_limits lim;
    tl_wire_limits_default(&lim);
    lim.max_header_bytes = 1 << 16;
    tl_wire_msg m;
    tl_error err = {0};
    if (tl_wire_decode(data, size, &lim, &m, &err) != TL_OK)
        return 0;
    (void)tl_wire_check_parts(&m, 2, size, &err);
    (void)tl_wire_check_parts(&m, 1, 0, &err);
    char *text = tl_wire_encode(&m);
    if (text) {
        tl_wire_msg again;
        if (tl_wire_decode(text, strlen(text), NULL, &again, &err) != TL_OK)
            abort(); /* what decode accepted must survive a round trip */
        if (again.type != m.type || strcmp(again.scan, m.scan) != 0)
            abort();
        if (m.type == TL_WIRE_SCAN_START &&
            (again.start.n_proj != m.start.n_proj || again.start.rows != m.start.rows ||
             memcmp(again.start.angles, m.start.angles, m.start.n_proj * sizeof(double)) != 0))
            abort();
        if (m.type == TL_WIRE_FRAME && again.frame.index != m.frame.index)
            abort();
        tl_wire_msg_free(&again);
        free(text);
    }
    tl_wire_msg_free(&m);
    return 0;
}
