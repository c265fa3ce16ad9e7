/* test_route.c - the streaming fan-out (issue 9, part 2): `tomoline route` in
 * front of `tomoline serve` workers on loopback.
 *
 *  - the pieces: the row split, the route field and the slab report (decoding
 *    refuses what is out of range), relative paths for the virtual dataset;
 *  - a router and two workers, `send` of a simulated scan of 7 rows (not
 *    divisible by 2): the assembled file (read through its HDF5 virtual
 *    dataset) equals the batch `recon` within 1e-5, its slabs hold rows 0..2
 *    and 3..6, /entry/process/route records them, the catalog holds exactly one
 *    record (the workers, given the same catalog, add none), and the volume
 *    still reads after the output and slab directories are moved together;
 *  - a worker killed before the scan, a worker killed during a scan, a worker
 *    that never reports and a worker that refuses the scan: each scan is
 *    reported incomplete with its exact log line, and leaves no assembled
 *    file and no catalog record;
 *  - bad --to and --listen values: exact messages, exit status, nothing written.
 *
 * Every process runs under `timeout`, on 127.0.0.1 ports that were free, and
 * is stopped at the end of its test (SIGTERM, then checked to exit 0); the
 * suite's fini kills whatever a failed test left running.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <hdf5.h>

#include "assemble.h"
#include "catalog.h"
#include "hdf5_util.h"
#include "json.h"
#include "route.h"
#include "support.h"

static char dir[4096];
static long started[16];
static int n_started;

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    n_started = 0;
}

/* Whatever a failed test left running. */
static void kill_started(void)
{
    for (int i = 0; i < n_started; i++)
        if (started[i] > 0 && kill((pid_t)started[i], 0) == 0)
            kill((pid_t)started[i], SIGKILL);
}

TestSuite(route, .init = make_dir, .fini = kill_started, .timeout = 240);

/* A tomoline process in the background, under `timeout`; pid is tomoline's own
 * (sh execs it), so SIGKILL reaches it and not only the timeout wrapper. */
typedef struct proc {
    char name[64], log[4200], status[4200];
    long pid;
} proc;

static void start_proc(proc *p, const char *name, const char *args, const char *ready)
{
    char pidfile[4200], cmd[16384];
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->log, sizeof p->log, "%s/%s.log", dir, name);
    snprintf(p->status, sizeof p->status, "%s/%s.status", dir, name);
    snprintf(pidfile, sizeof pidfile, "%s/%s.pid", dir, name);
    snprintf(cmd, sizeof cmd,
             "( timeout -s TERM 200 sh -c 'echo $$ > %s; exec %s %s' >'%s' 2>&1; echo \"exit status $?\" > '%s' ) "
             ">/dev/null 2>&1 &",
             pidfile, TL_TEST_EXE, args, p->log, p->status);
    cr_assert_eq(system(cmd), 0);
    cr_assert(tl_test_wait_for(pidfile, NULL, 10), "%s did not start", name);
    tl_test_sleep(0.05);
    FILE *pf = fopen(pidfile, "r");
    cr_assert_not_null(pf);
    cr_assert_eq(fscanf(pf, "%ld", &p->pid), 1);
    fclose(pf);
    if (n_started < (int)(sizeof started / sizeof *started))
        started[n_started++] = p->pid;
    cr_assert(tl_test_wait_for(p->log, ready, 20), "%s is not ready ('%s' not in %s)", name, ready, p->log);
}

static void stop_proc(proc *p)
{
    kill((pid_t)p->pid, SIGTERM);
    cr_assert(tl_test_wait_for(p->status, "exit status", 20), "%s did not stop on SIGTERM", p->name);
    cr_expect(tl_test_file_has(p->status, "exit status 0"), "%s's exit status is not 0", p->name);
    cr_expect(!tl_test_file_has(p->log, "Sanitizer"), "a sanitizer report in %s", p->log);
}

typedef struct worker {
    proc p;
    char endpoint[64];
} worker;

static void start_worker(worker *w, const char *name, const char *out, const char *options)
{
    char args[8192];
    snprintf(w->endpoint, sizeof w->endpoint, "tcp://127.0.0.1:%d", tl_test_free_port());
    snprintf(args, sizeof args, "serve --listen %s -o %s --rotation-axis 23.5 --threads 1 %s", w->endpoint, out,
             options);
    start_proc(&w->p, name, args, "tomoline serve: listening on");
}

typedef struct router {
    proc p;
    char endpoint[64], report[64];
} router;

/* A router to workers[0..n) (endpoints; NULL: a worker given by `to`). */
static void start_router(router *r, const char *to, const char *out, const char *options)
{
    char args[8192];
    snprintf(r->endpoint, sizeof r->endpoint, "tcp://127.0.0.1:%d", tl_test_free_port());
    snprintf(r->report, sizeof r->report, "tcp://127.0.0.1:%d", tl_test_free_port());
    snprintf(args, sizeof args, "route --listen %s --to %s --report-listen %s -o %s %s", r->endpoint, to, r->report,
             out, options);
    start_proc(&r->p, "router", args, "tomoline route: listening on");
}

static void make_subdir(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", dir, name);
    cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s", path);
}

static void simulate(const char *path, int rows)
{
    tl_test_run_result r;
    tl_test_run(&r, "sim -o '%s' --size 48 --angles 60 --slices %d --photons 20000 --quiet", path, rows);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
}

/* send a scan file; the scan id it used (from its report line) into id. */
static void send_scan(const char *scan, const char *endpoint, const char *name, char *id, size_t id_size)
{
    tl_test_run_result r;
    tl_test_run(&r, "send '%s' --connect %s --name %s", scan, endpoint, name);
    cr_assert_eq(r.exit_code, 0, "send: %s", r.err);
    const char *q = strstr(r.out, "sent scan '");
    cr_assert_not_null(q, "send said: %s", r.out);
    q += strlen("sent scan '");
    const char *end = strchr(q, '\'');
    cr_assert_not_null(end);
    snprintf(id, id_size, "%.*s", (int)(end - q), q);
}

static void assert_volumes_equal(const char *a_path, const char *b_path, double tol)
{
    size_t z, y, x, z2, y2, x2;
    float *a = tl_test_read_volume(a_path, &z, &y, &x), *b = tl_test_read_volume(b_path, &z2, &y2, &x2);
    cr_assert(z == z2 && y == y2 && x == x2, "%s is %zu x %zu x %zu, %s is %zu x %zu x %zu", a_path, z, y, x, b_path,
              z2, y2, x2);
    for (size_t i = 0; i < z * y * x; i++)
        cr_assert(fabsf(a[i] - b[i]) <= tol, "voxel %zu: %s %.9g, %s %.9g", i, a_path, a[i], b_path, b[i]);
    free(a), free(b);
}

static size_t catalog_records(const char *db, char *output, size_t size)
{
    if (!tl_test_file_exists(db))
        return 0;
    char url[4200];
    snprintf(url, sizeof url, "sqlite:%s", db);
    tl_catalog *cat = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_catalog_open(url, 5, 0, &cat, &err), TL_OK, "%s", err.message);
    tl_catalog_query q = {0};
    tl_catalog_entries e = {0};
    cr_assert_eq(tl_catalog_search(cat, &q, &e, &err), TL_OK, "%s", err.message);
    size_t n = e.count;
    if (n > 0 && output)
        snprintf(output, size, "%s|%zux%zux%zu|%.3f", e.items[0].output_path, e.items[0].shape[0], e.items[0].shape[1],
                 e.items[0].shape[2], e.items[0].rotation_axis);
    tl_catalog_entries_free(&e);
    tl_catalog_close(&cat);
    return n;
}

static void read_doubles(hid_t f, const char *path, double *out, size_t n)
{
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    cr_assert_geq(d, 0, "no %s", path);
    hid_t s = H5Dget_space(d);
    cr_assert_eq((size_t)H5Sget_simple_extent_npoints(s), n, "%s has %lld values", path,
                 (long long)H5Sget_simple_extent_npoints(s));
    cr_assert_geq(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), 0);
    H5Sclose(s);
    H5Dclose(d);
}

/* ------------------------------------------------------------------------------------------ */
/* the pieces                                                                                   */

Test(route, row_split_is_contiguous_and_even)
{
    static const size_t cases[][2] = {{7, 2}, {9, 2}, {1, 1}, {10, 3}, {2048, 7}, {3, 5}, {1000000000, 256}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        size_t rows = cases[c][0], n = cases[c][1], next = 0, lo = (size_t)-1, hi = 0;
        for (size_t k = 0; k < n; k++) {
            size_t b, e;
            tl_route_split(rows, n, k, &b, &e);
            cr_assert_eq(b, next, "%zu rows, %zu workers: worker %zu starts at %zu, not %zu", rows, n, k, b, next);
            cr_assert_geq(e, b);
            lo = e - b < lo ? e - b : lo;
            hi = e - b > hi ? e - b : hi;
            next = e;
        }
        cr_assert_eq(next, rows, "%zu rows, %zu workers: the ranges end at %zu", rows, n, next);
        cr_assert_leq(hi - lo, 1, "%zu rows, %zu workers: sizes %zu to %zu", rows, n, lo, hi);
    }
    size_t b, e;
    tl_route_split(7, 2, 0, &b, &e);
    cr_assert(b == 0 && e == 3);
    tl_route_split(7, 2, 1, &b, &e);
    cr_assert(b == 3 && e == 7);
}

Test(route, route_field_and_report_round_trip_and_refusals)
{
    tl_wire_msg start;
    memset(&start, 0, sizeof start);
    start.type = TL_WIRE_SCAN_START;
    snprintf(start.scan, sizeof start.scan, "s1");
    double angles[2] = {0, 90};
    start.start = (tl_wire_scan_start){.rows = 7, .cols = 4, .row_offset = 100, .dtype = TL_WIRE_UINT16,
                                       .n_proj = 2, .n_flat = 1, .angles = angles};
    tl_route_field f = {.row_begin = 3, .row_end = 7, .rows_total = 7, .worker = 1, .workers = 2};
    snprintf(f.report_to, sizeof f.report_to, "tcp://127.0.0.1:5561");
    snprintf(f.ticket, sizeof f.ticket, "ab12-3");
    char *h = tl_route_encode_start(&start, &f);
    cr_assert_not_null(h);
    tl_wire_msg m;
    tl_error err = {0};
    cr_assert_eq(tl_wire_decode(h, strlen(h), NULL, &m, &err), TL_OK, "%s", err.message);
    cr_expect_eq(m.start.rows, 4);
    cr_expect_eq(m.start.row_offset, 103);
    tl_route_field back;
    int present = 0;
    cr_assert_eq(tl_route_field_decode(h, strlen(h), m.start.rows, &back, &present, &err), TL_OK, "%s", err.message);
    cr_assert(present);
    cr_expect(back.row_begin == 3 && back.row_end == 7 && back.rows_total == 7 && back.worker == 1 &&
              back.workers == 2);
    cr_expect_str_eq(back.report_to, "tcp://127.0.0.1:5561");
    cr_expect_str_eq(back.ticket, "ab12-3");
    /* the rows of the route and of the scan-start must agree */
    cr_assert_eq(tl_route_field_decode(h, strlen(h), 5, &back, &present, &err), TL_ERR_DATA);
    cr_expect_str_eq(err.message, "scan-start header: 'route': rows 3..6 are 4 rows, but the scan-start's 'rows' is 5");
    tl_wire_msg_free(&m);
    free(h);
    /* no route field */
    const char *plain = "{\"protocol\":1,\"type\":\"scan-start\",\"scan\":\"x\"}";
    cr_assert_eq(tl_route_field_decode(plain, strlen(plain), 1, &back, &present, &err), TL_OK);
    cr_expect_eq(present, 0);
    static const struct {
        const char *route, *message;
    } bad[] = {
        {"\"route\":[1]", "scan-start header: 'route': an object was expected"},
        {"\"route\":{\"workers\":2,\"worker\":2,\"rows_total\":7,\"row_begin\":0,\"row_end\":3}",
         "scan-start header: 'route': 'worker' must be an integer from 0 to 1 (got 2)"},
        {"\"route\":{\"workers\":2,\"worker\":0,\"rows_total\":7,\"row_begin\":3,\"row_end\":3}",
         "scan-start header: 'route': 'row_end' must be an integer from 4 to 7 (got 3)"},
        {"\"route\":{\"workers\":2,\"worker\":0,\"rows_total\":7,\"row_begin\":0,\"row_end\":3,\"report_to\":"
         "\"http://x\",\"ticket\":\"t\"}",
         "scan-start header: 'route': 'report_to' 'http://x' is not a tcp:// or ipc:// endpoint"},
        {"\"route\":{\"workers\":2,\"worker\":0,\"rows_total\":7,\"row_begin\":0,\"row_end\":3,\"report_to\":"
         "\"tcp://h:1\",\"ticket\":\"a/b\"}",
         "scan-start header: 'route': 'ticket' may hold letters, digits and '-' only (got 'a/b')"},
        {"\"route\":{\"workers\":300}", "scan-start header: 'route': 'workers' must be an integer from 1 to 256 (got 300)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[1024];
        snprintf(text, sizeof text, "{\"protocol\":1,\"type\":\"scan-start\",\"scan\":\"x\",%s}", bad[i].route);
        cr_assert_eq(tl_route_field_decode(text, strlen(text), 3, &back, &present, &err), TL_ERR_DATA, "%s", text);
        cr_expect(present);
        cr_expect_str_eq(err.message, bad[i].message);
    }

    tl_route_report rep = {.worker = 1, .row_begin = 3, .row_end = 7, .ok = 1, .axis = 23.5, .seconds = 1.25};
    snprintf(rep.scan, sizeof rep.scan, "s \"1\"");
    snprintf(rep.ticket, sizeof rep.ticket, "ab12-3");
    snprintf(rep.path, sizeof rep.path, "/data/slabs/s_rows00003-00006.nxs");
    snprintf(rep.host, sizeof rep.host, "gpu2");
    snprintf(rep.axis_method, sizeof rep.axis_method, "given");
    char *json = tl_route_report_encode(&rep);
    tl_route_report got;
    cr_assert_eq(tl_route_report_decode(json, strlen(json), &got, &err), TL_OK, "%s", err.message);
    cr_expect_str_eq(got.scan, "s \"1\"");
    cr_expect(got.ok && got.worker == 1 && got.row_begin == 3 && got.row_end == 7 && got.axis == 23.5 &&
              got.seconds == 1.25);
    cr_expect_str_eq(got.path, rep.path);
    free(json);
    rep.ok = 0;
    rep.axis = NAN;
    snprintf(rep.reason, sizeof rep.reason, "scan-end after 80 frames sent, 1 missing");
    json = tl_route_report_encode(&rep);
    cr_assert_eq(tl_route_report_decode(json, strlen(json), &got, &err), TL_OK, "%s", err.message);
    cr_expect(!got.ok && isnan(got.axis));
    cr_expect_str_eq(got.reason, "scan-end after 80 frames sent, 1 missing");
    free(json);
    const char *relative = "{\"protocol\":1,\"type\":\"slab-report\",\"scan\":\"s\",\"ticket\":\"t\",\"worker\":0,"
                           "\"row_begin\":0,\"row_end\":3,\"status\":\"ok\",\"path\":\"slabs/a.nxs\"}";
    cr_assert_eq(tl_route_report_decode(relative, strlen(relative), &got, &err), TL_ERR_DATA);
    cr_expect_str_eq(err.message, "slab report: status ok needs the slab's absolute 'path' (got 'slabs/a.nxs')");
    cr_assert_eq(tl_route_report_decode("\x01garbage", 8, &got, &err), TL_ERR_DATA);
}

Test(route, relative_paths_for_the_virtual_dataset)
{
    char out[256];
    static const char *const cases[][3] = {
        {"/a/b/out", "/a/b/slabs/x.nxs", "../slabs/x.nxs"},
        {"/a/b/out", "/a/b/out/x.nxs", "x.nxs"},
        {"/a/b", "/a/bc/x.nxs", "../bc/x.nxs"},
        {"/", "/x.nxs", "x.nxs"},
        {"/a/b/c", "/d/x.nxs", "../../../d/x.nxs"},
        {"/a", "/a/b/c/x.nxs", "b/c/x.nxs"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cr_assert_eq(tl_assemble_relative_path(cases[i][0], cases[i][1], out, sizeof out), 0);
        cr_expect_str_eq(out, cases[i][2], "from %s to %s", cases[i][0], cases[i][1]);
    }
    cr_expect_eq(tl_assemble_relative_path("/a/b/c", "/d/x.nxs", out, 8), -1);
}

/* ------------------------------------------------------------------------------------------ */
/* end to end                                                                                   */

Test(route, two_workers_assemble_the_batch_volume_with_one_catalog_record)
{
    char scan[4200], slabs[4200], out[4200], db[4200], catalog[4300], to[256], opts[4400];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    simulate(scan, 7); /* 7 rows: 0..2 and 3..6 */
    make_subdir(slabs, sizeof slabs, "slabs");
    make_subdir(out, sizeof out, "out");
    snprintf(db, sizeof db, "%s/catalog.db", dir);
    snprintf(catalog, sizeof catalog, "--catalog sqlite:%s", db);
    worker w0, w1;
    start_worker(&w0, "w0", slabs, catalog); /* the workers are given the catalog too: they must not use it */
    start_worker(&w1, "w1", slabs, catalog);
    router r;
    snprintf(to, sizeof to, "%s,%s", w0.endpoint, w1.endpoint);
    snprintf(opts, sizeof opts, "%s --route-timeout 60", catalog);
    start_router(&r, to, out, opts);

    char id[256], assembled[4300], batch[4300];
    send_scan(scan, r.endpoint, "routed", id, sizeof id);
    snprintf(assembled, sizeof assembled, "%s/routed.nxs", out);
    cr_assert(tl_test_wait_for(r.p.log, "tomoline route: wrote", 60), "no volume assembled; router log %s", r.p.log);
    cr_assert(tl_test_file_exists(assembled));
    snprintf(batch, sizeof batch, "%s/batch.nxs", dir);
    tl_test_run_result rr;
    tl_test_run(&rr, "recon '%s' -o '%s' --rotation-axis 23.5 --quiet", scan, batch);
    cr_assert_eq(rr.exit_code, 0, "%s", rr.err);
    assert_volumes_equal(assembled, batch, 1e-5);

    /* the slabs: rows 0..2 and 3..6, their z the detector rows */
    char slab0[4300], slab1[4300];
    snprintf(slab0, sizeof slab0, "%s/routed_rows00000-00002.nxs", slabs);
    snprintf(slab1, sizeof slab1, "%s/routed_rows00003-00006.nxs", slabs);
    size_t nz, ny, nx;
    free(tl_test_read_volume(slab0, &nz, &ny, &nx));
    cr_expect_eq(nz, 3);
    free(tl_test_read_volume(slab1, &nz, &ny, &nx));
    cr_expect_eq(nz, 4);
    hid_t f = H5Fopen(slab1, H5F_ACC_RDONLY, H5P_DEFAULT);
    double z4[4];
    read_doubles(f, "/entry/data/z", z4, 4);
    cr_expect(z4[0] == 3 && z4[3] == 6, "slab 1's z: %g..%g", z4[0], z4[3]);
    H5Fclose(f);

    /* the assembled file: a virtual dataset over the slabs by relative path, z 0..6, the routing */
    f = H5Fopen(assembled, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    hid_t d = H5Dopen2(f, "/entry/data/data", H5P_DEFAULT), dcpl = H5Dget_create_plist(d);
    cr_assert_eq(H5Pget_layout(dcpl), H5D_VIRTUAL);
    size_t n_maps = 0;
    cr_assert_geq(H5Pget_virtual_count(dcpl, &n_maps), 0);
    cr_assert_eq(n_maps, 2);
    char name[512];
    H5Pget_virtual_filename(dcpl, 0, name, sizeof name);
    cr_expect_str_eq(name, "../slabs/routed_rows00000-00002.nxs");
    H5Pget_virtual_filename(dcpl, 1, name, sizeof name);
    cr_expect_str_eq(name, "../slabs/routed_rows00003-00006.nxs");
    H5Pclose(dcpl);
    H5Dclose(d);
    double z[7], begin[2], end[2], axes[2];
    read_doubles(f, "/entry/data/z", z, 7);
    for (int i = 0; i < 7; i++)
        cr_expect_eq(z[i], (double)i);
    read_doubles(f, "/entry/process/route/row_begin", begin, 2);
    read_doubles(f, "/entry/process/route/row_end", end, 2);
    read_doubles(f, "/entry/process/route/rotation_axis", axes, 2);
    cr_expect(begin[0] == 0 && end[0] == 3 && begin[1] == 3 && end[1] == 7, "rows %g..%g, %g..%g", begin[0], end[0],
              begin[1], end[1]);
    cr_expect(axes[0] == 23.5 && axes[1] == 23.5);
    char text[1 << 14], signal[64];
    hid_t data = H5Gopen2(f, "/entry/data", H5P_DEFAULT);
    cr_assert_eq(tl_h5_read_string_attr(data, "signal", signal, sizeof signal), 0);
    cr_expect_str_eq(signal, "data");
    H5Gclose(data);
    cr_assert_eq(tl_h5_read_string_dataset(f, "/entry/process/route/routing", text, sizeof text), 0);
    tl_json routing;
    char why[200];
    cr_assert(tl_json_parse(text, &routing, why, sizeof why), "%s", why);
    const tl_json *workers = tl_json_get(&routing, "workers");
    cr_assert(workers && workers->type == TL_JSON_ARRAY && workers->n == 2);
    const tl_json *ep = tl_json_get(&workers->items[1], "endpoint"), *slab = tl_json_get(&workers->items[1], "slab");
    cr_expect_str_eq(ep->text, w1.endpoint);
    cr_expect(strstr(slab->text, "/slabs/routed_rows00003-00006.nxs") != NULL, "%s", slab->text);
    tl_json_free(&routing);
    cr_assert_eq(tl_h5_read_string_dataset(f, "/entry/process/program", text, sizeof text), 0);
    cr_expect_str_eq(text, "tomoline");
    H5Fclose(f);

    /* one catalog record: the assembled volume's */
    char record[8192];
    cr_assert_eq(catalog_records(db, record, sizeof record), 1, "the catalog must hold one record");
    char expected[8192];
    snprintf(expected, sizeof expected, "%s|7x48x48|23.500", assembled);
    cr_expect(strstr(record, "/out/routed.nxs|7x48x48|23.500") != NULL, "record %s, expected like %s", record,
              expected);
    cr_expect(!tl_test_file_has(w0.p.log, "catalog: registered") && !tl_test_file_has(w1.p.log, "catalog: registered"),
              "a worker registered its slab");

    stop_proc(&r.p);
    stop_proc(&w0.p);
    stop_proc(&w1.p);
    cr_expect(tl_test_file_has(r.p.log, "assembled 1, incomplete 0"), "router summary: see %s", r.p.log);

    /* the volume and its slabs moved together still read */
    char moved[4200], cmd[16384], moved_volume[4300];
    snprintf(moved, sizeof moved, "%s/moved", dir);
    snprintf(cmd, sizeof cmd, "mkdir '%s' && mv '%s' '%s' '%s/'", moved, out, slabs, moved);
    cr_assert_eq(system(cmd), 0);
    snprintf(moved_volume, sizeof moved_volume, "%s/out/routed.nxs", moved);
    assert_volumes_equal(moved_volume, batch, 1e-5);
}

static void assert_nothing_assembled(const char *out, const char *db, const char *name)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s.nxs", out, name);
    cr_expect(!tl_test_file_exists(path), "%s exists", path);
    snprintf(path, sizeof path, "%s/%s.nxs.partial", out, name);
    cr_expect(!tl_test_file_exists(path), "%s exists", path);
    cr_expect_eq(catalog_records(db, NULL, 0), 0, "the catalog holds a record");
}

Test(route, a_worker_killed_before_the_scan_makes_it_incomplete)
{
    char scan[4200], slabs[4200], out[4200], db[4200], to[256], opts[4400];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    simulate(scan, 7);
    make_subdir(slabs, sizeof slabs, "slabs");
    make_subdir(out, sizeof out, "out");
    snprintf(db, sizeof db, "%s/catalog.db", dir);
    worker w0, w1;
    start_worker(&w0, "w0", slabs, "");
    start_worker(&w1, "w1", slabs, "");
    router r;
    snprintf(to, sizeof to, "%s,%s", w0.endpoint, w1.endpoint);
    snprintf(opts, sizeof opts, "--catalog sqlite:%s --route-send-timeout 2 --route-timeout 20", db);
    start_router(&r, to, out, opts);
    char line[1024];
    snprintf(line, sizeof line, "route: worker 1 (%s) connected", w1.endpoint);
    cr_assert(tl_test_wait_for(r.p.log, line, 20), "the router did not connect to worker 1");

    kill((pid_t)w1.p.pid, SIGKILL);
    snprintf(line, sizeof line, "tomoline: warning: route: worker 1 (%s) disconnected", w1.endpoint);
    cr_assert(tl_test_wait_for(r.p.log, line, 20), "the router did not notice worker 1 die: %s", r.p.log);
    char id[256];
    send_scan(scan, r.endpoint, "killed", id, sizeof id);
    snprintf(line, sizeof line,
             "tomoline: warning: route: scan '%s' incomplete: worker 1 (%s, rows 3..6): not connected: it took no "
             "message within --route-send-timeout 2 s; no volume assembled, no catalog record\n",
             id, w1.endpoint);
    cr_assert(tl_test_wait_for(r.p.log, line, 30), "expected in %s:\n%s", r.p.log, line);
    /* worker 0 was told to drop the scan, and wrote nothing */
    snprintf(line, sizeof line,
             "serve: scan '%s' discarded: the sender aborted it (routed scan incomplete: worker 1 (rows 3..6) failed)",
             id);
    cr_assert(tl_test_wait_for(w0.p.log, line, 20), "worker 0 did not drop the scan: %s", w0.p.log);
    tl_test_sleep(0.5);
    assert_nothing_assembled(out, db, "killed");
    char slab0[4300];
    snprintf(slab0, sizeof slab0, "%s/killed_rows00000-00002.nxs", slabs);
    cr_expect(!tl_test_file_exists(slab0), "worker 0 wrote %s", slab0);

    stop_proc(&r.p);
    stop_proc(&w0.p);
    cr_expect(tl_test_file_has(w1.p.status, "exit status 137"), "worker 1 was not killed");
    cr_expect(tl_test_file_has(r.p.log, "scans 1, assembled 0, incomplete 1"), "router summary: see %s", r.p.log);
}

static void push(void *sock, const char *header, const void *payload, size_t size)
{
    cr_assert_geq(zmq_send(sock, header, strlen(header), payload ? ZMQ_SNDMORE : 0), 0);
    if (payload)
        cr_assert_geq(zmq_send(sock, payload, size, 0), 0);
}

/* A scan of 5 x 48 pixels from a raw peer, in two halves: before and after `between`. */
static void push_frames(void *sock, const char *scan, int first, int last)
{
    char h[1024];
    uint16_t frame[5 * 48];
    for (int index = first; index <= last; index++) {
        int key = index == 0 ? 2 : index == 1 ? 1 : 0, p = index - 2;
        char angle[64] = "";
        for (int i = 0; i < 5 * 48; i++)
            frame[i] = key == 2 ? 100 : key == 1 ? 2100 : (uint16_t)(1000 + 7 * (i % 48) + 150 * p);
        if (!key)
            snprintf(angle, sizeof angle, "\"angle\":%d,", 45 * p);
        snprintf(h, sizeof h,
                 "{\"protocol\":1,\"type\":\"frame\",\"scan\":\"%s\",\"index\":%d,\"image_key\":%d,%s\"rows\":5,"
                 "\"cols\":48,\"dtype\":\"uint16\"}",
                 scan, index, key, angle);
        push(sock, h, frame, sizeof frame);
    }
}

/* scan-start of 5 x 48 uint16 frames: 1 dark, 1 flat, n_proj projections 45 degrees apart */
static void push_start(void *sock, const char *scan, int n_proj)
{
    char h[1024];
    snprintf(h, sizeof h,
             "{\"protocol\":1,\"type\":\"scan-start\",\"scan\":\"%s\",\"rows\":5,\"cols\":48,\"dtype\":\"uint16\","
             "\"projections\":%d,\"flats\":1,\"darks\":1,\"start_angle\":0,\"angle_step\":45}",
             scan, n_proj);
    push(sock, h, NULL, 0);
}

static void push_end(void *sock, const char *scan)
{
    char h[256];
    snprintf(h, sizeof h, "{\"protocol\":1,\"type\":\"scan-end\",\"scan\":\"%s\",\"frames\":6}", scan);
    push(sock, h, NULL, 0);
}

static void *peer(void *ctx, const char *endpoint)
{
    void *sock = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 2000;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(sock, endpoint), 0);
    return sock;
}

Test(route, a_worker_dying_during_the_scan_or_refusing_it_makes_it_incomplete)
{
    char slabs[4200], out[4200], db[4200], to[256], opts[4400], line[2048];
    make_subdir(slabs, sizeof slabs, "slabs");
    make_subdir(out, sizeof out, "out");
    snprintf(db, sizeof db, "%s/catalog.db", dir);
    worker w0, w1, w2;
    start_worker(&w0, "w0", slabs, "");
    start_worker(&w1, "w1", slabs, "");
    /* worker 2 holds at most 25000 bytes: 2 rows of 4 projections fit (20032 bytes), of 40 do not */
    start_worker(&w2, "w2", slabs, "--max-scan-bytes 25000");
    router r;
    snprintf(to, sizeof to, "%s,%s,%s", w0.endpoint, w1.endpoint, w2.endpoint);
    snprintf(opts, sizeof opts, "--catalog sqlite:%s --route-send-timeout 5 --route-timeout 20 --route-heartbeat 0.5",
             db);
    start_router(&r, to, out, opts);
    snprintf(line, sizeof line, "route: worker 2 (%s) connected", w2.endpoint);
    cr_assert(tl_test_wait_for(r.p.log, line, 20), "the router did not connect to worker 2");
    void *ctx = zmq_ctx_new(), *sock = peer(ctx, r.endpoint);

    /* worker 2 refuses a scan of 40 projections (its --max-scan-bytes): it says so, the scan is incomplete */
    push_start(sock, "refused", 40);
    snprintf(line, sizeof line,
             "tomoline: warning: route: scan 'refused' incomplete: worker 2 (%s, rows 3..4): it reported: "
             "reconstructing its rows 3..4 holds 34432 bytes (sinograms and volume), more than --max-scan-bytes "
             "25000; reconstruct fewer rows (route to more workers); no volume assembled, no catalog record\n",
             w2.endpoint);
    cr_assert(tl_test_wait_for(r.p.log, line, 20), "expected in %s:\n%s", r.p.log, line);
    push_frames(sock, "refused", 0, 5);
    push_end(sock, "refused");

    /* worker 1 dies half-way through a scan: its connection drops */
    push_start(sock, "midway", 4);
    push_frames(sock, "midway", 0, 2);
    snprintf(line, sizeof line, "serve: scan 'midway': worker 1 of 3");
    cr_assert(tl_test_wait_for(w1.p.log, line, 20), "worker 1 did not get the scan");
    kill((pid_t)w1.p.pid, SIGKILL);
    snprintf(line, sizeof line,
             "tomoline: warning: route: scan 'midway' incomplete: worker 1 (%s, rows 1..2): disconnected (the worker "
             "stopped, or sent no heartbeat for 1.5 s); no volume assembled, no catalog record\n",
             w1.endpoint);
    cr_assert(tl_test_wait_for(r.p.log, line, 20), "expected in %s:\n%s", r.p.log, line);
    push_frames(sock, "midway", 3, 5);
    push_end(sock, "midway");
    cr_assert(tl_test_wait_for(w0.p.log, "serve: scan 'midway' discarded: the sender aborted it", 20));
    tl_test_sleep(0.5);
    assert_nothing_assembled(out, db, "refused");
    assert_nothing_assembled(out, db, "midway");
    zmq_close(sock);
    zmq_ctx_term(ctx);
    stop_proc(&r.p);
    stop_proc(&w0.p);
    stop_proc(&w2.p);
    cr_expect(tl_test_file_has(r.p.log, "scans 2, assembled 0, incomplete 2"), "router summary: see %s", r.p.log);
}

Test(route, a_worker_that_never_reports_makes_the_scan_incomplete)
{
    char slabs[4200], out[4200], db[4200], to[256], opts[4400], line[2048];
    make_subdir(slabs, sizeof slabs, "slabs");
    make_subdir(out, sizeof out, "out");
    snprintf(db, sizeof db, "%s/catalog.db", dir);
    worker w0;
    start_worker(&w0, "w0", slabs, "");
    /* worker 1: a socket that takes the frames and never reports */
    void *ctx = zmq_ctx_new(), *silent = zmq_socket(ctx, ZMQ_PULL);
    char silent_ep[64];
    snprintf(silent_ep, sizeof silent_ep, "tcp://127.0.0.1:%d", tl_test_free_port());
    cr_assert_eq(zmq_bind(silent, silent_ep), 0);
    router r;
    snprintf(to, sizeof to, "%s,%s", w0.endpoint, silent_ep);
    snprintf(opts, sizeof opts, "--catalog sqlite:%s --route-timeout 8", db);
    start_router(&r, to, out, opts);
    snprintf(line, sizeof line, "route: worker 1 (%s) connected", silent_ep);
    cr_assert(tl_test_wait_for(r.p.log, line, 20), "the router did not connect to the silent worker");
    void *sock = peer(ctx, r.endpoint);
    push_start(sock, "silent", 4);
    push_frames(sock, "silent", 0, 5);
    push_end(sock, "silent");
    /* worker 0 writes its slab, which is kept; the scan is incomplete */
    snprintf(line, sizeof line, "route: scan 'silent': worker 0 (%s) wrote rows 0..1: ", w0.endpoint);
    cr_assert(tl_test_wait_for(r.p.log, line, 30), "worker 0 did not report: %s", r.p.log);
    snprintf(line, sizeof line,
             "tomoline: warning: route: scan 'silent' incomplete: worker 1 (%s, rows 2..4): did not report within "
             "--route-timeout 8 s after scan-end; no volume assembled, no catalog record\n",
             silent_ep);
    cr_assert(tl_test_wait_for(r.p.log, line, 20), "expected in %s:\n%s", r.p.log, line);
    char slab0[4300];
    snprintf(slab0, sizeof slab0, "%s/silent_rows00000-00001.nxs", slabs);
    cr_expect(tl_test_file_exists(slab0), "worker 0's slab %s is gone", slab0);
    snprintf(line, sizeof line, "route: scan 'silent': the slab of worker 0 is kept: ");
    cr_expect(tl_test_file_has(r.p.log, line));
    assert_nothing_assembled(out, db, "silent");
    zmq_close(sock);
    zmq_close(silent);
    zmq_ctx_term(ctx);
    stop_proc(&r.p);
    stop_proc(&w0.p);
    cr_expect(tl_test_file_has(r.p.log, "scans 1, assembled 0, incomplete 1"), "router summary: see %s", r.p.log);
}

Test(route, hostile_messages_are_logged_and_counted)
{
    char slabs[4200], out[4200], line[2048];
    make_subdir(slabs, sizeof slabs, "slabs");
    make_subdir(out, sizeof out, "out");
    worker w0;
    start_worker(&w0, "w0", slabs, "");
    router r;
    start_router(&r, w0.endpoint, out, "--route-timeout 20");
    snprintf(line, sizeof line, "route: worker 0 (%s) connected", w0.endpoint);
    cr_assert(tl_test_wait_for(r.p.log, line, 20), "the router did not connect to worker 0");
    void *ctx = zmq_ctx_new(), *sock = peer(ctx, r.endpoint), *rep = peer(ctx, r.report);
    uint16_t px[5 * 48] = {0};
    push(sock, "\x01\x02garbage", NULL, 0);                                       /* malformed */
    push(sock, "{\"protocol\":1,\"type\":\"frame\",\"scan\":\"ghost\",\"index\":0,\"image_key\":2,\"rows\":5,"
               "\"cols\":48,\"dtype\":\"uint16\"}", px, sizeof px);                     /* unknown-scan */
    push(sock, "{\"protocol\":1,\"type\":\"scan-start\",\"scan\":\"chained\",\"rows\":5,\"cols\":48,\"dtype\":"
               "\"uint16\",\"projections\":4,\"flats\":1,\"start_angle\":0,\"angle_step\":45,\"route\":{}}",
         NULL, 0);                                                                  /* malformed: a routed scan-start */
    push_start(sock, "hostile", 4);
    push(sock, "{\"protocol\":1,\"type\":\"frame\",\"scan\":\"hostile\",\"index\":0,\"image_key\":2,\"rows\":5,"
               "\"cols\":48,\"dtype\":\"uint16\"}", px, sizeof px - 2);                 /* bad-payload */
    push(sock, "{\"protocol\":1,\"type\":\"frame\",\"scan\":\"hostile\",\"index\":0,\"image_key\":2,\"rows\":4,"
               "\"cols\":48,\"dtype\":\"uint16\"}", px, 4 * 48 * 2);                    /* bad-shape */
    push(sock, "{\"protocol\":1,\"type\":\"abort\",\"scan\":\"hostile\",\"reason\":\"beam lost\"}", NULL, 0);
    push(rep, "{\"protocol\":1,\"type\":\"slab-report\"}", NULL, 0);               /* bad-report */
    cr_assert(tl_test_wait_for(w0.p.log, "serve: scan 'hostile' discarded: the sender aborted it (beam lost)", 20),
              "the worker did not get the abort: %s", w0.p.log);
    cr_assert(tl_test_wait_for(r.p.log, "route: report dropped: slab report: 'scan' is missing (a string)", 20));
    cr_expect(tl_test_file_has(r.p.log, "route: scan 'chained' refused: its scan-start already carries a route field"));
    cr_expect(tl_test_file_has(r.p.log, "route: frame 0 of unknown scan 'ghost': dropped"));
    cr_expect(tl_test_file_has(r.p.log, "route: frame 0 of scan 'hostile' is 4 x 48 uint16, the scan's frames are 5 x 48 "
                                "uint16: dropped"));
    cr_expect(tl_test_file_has(r.p.log, "route: scan 'hostile' aborted by the sender (beam lost): no volume"));
    zmq_close(sock);
    zmq_close(rep);
    zmq_ctx_term(ctx);
    stop_proc(&r.p);
    stop_proc(&w0.p);
    cr_expect(tl_test_file_has(r.p.log, "tomoline route: stopped; scans 1, assembled 0, incomplete 0, aborted 1, timed-out 0, "
                                "failed 0, malformed 2, bad-payload 1, unknown-scan 1, bad-shape 1, over-limit 0, "
                                "bad-report 1\n"),
              "router summary: see %s", r.p.log);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "test \"$(ls -A '%s' '%s' | grep -c '[.]nxs')\" = 0", out, slabs);
    cr_expect_eq(system(cmd), 0, "a file was written");
}

/* ------------------------------------------------------------------------------------------ */
/* bad options                                                                                  */

Test(route, bad_to_and_listen_values_give_exact_errors)
{
    char out[4200];
    make_subdir(out, sizeof out, "out");
    int p1 = tl_test_free_port(), p2 = tl_test_free_port();
    /* a port that is taken */
    void *ctx = zmq_ctx_new(), *taken = zmq_socket(ctx, ZMQ_PULL);
    char taken_ep[64];
    snprintf(taken_ep, sizeof taken_ep, "tcp://127.0.0.1:%d", tl_test_free_port());
    cr_assert_eq(zmq_bind(taken, taken_ep), 0);
    static const char *const allowed =
        "comma-separated ZeroMQ endpoints of the serve workers, tcp://HOST:PORT or ipc://PATH, e.g. --to "
        "tcp://gpu1:5556,tcp://gpu2:5556";
    struct {
        char args[512], message[1024];
        int code;
    } cases[9];
    int n = 0;
    snprintf(cases[n].args, 512, "-o %s", out);
    snprintf(cases[n].message, 1024, "tomoline: error: route needs --to, the serve workers to send the rows to "
             "(allowed: %s)\n", allowed);
    cases[n++].code = 2;
    snprintf(cases[n].args, 512, "-o %s --to tcp://127.0.0.1:%d,,tcp://127.0.0.1:%d", out, p1, p2);
    snprintf(cases[n].message, 1024, "tomoline: error: --to 'tcp://127.0.0.1:%d,,tcp://127.0.0.1:%d': worker 2 is "
             "empty (allowed: %s)\n", p1, p2, allowed);
    cases[n++].code = 2;
    snprintf(cases[n].args, 512, "-o %s --to gpu1:5556", out);
    snprintf(cases[n].message, 1024, "tomoline: error: --to: 'gpu1:5556' is not a worker endpoint (allowed: %s)\n",
             allowed);
    cases[n++].code = 2;
    snprintf(cases[n].args, 512, "-o %s --to tcp://127.0.0.1:%d,tcp://127.0.0.1:%d", out, p1, p1);
    snprintf(cases[n].message, 1024, "tomoline: error: --to: 'tcp://127.0.0.1:%d' is given twice (each worker "
             "once)\n", p1);
    cases[n++].code = 2;
    snprintf(cases[n].args, 512, "-o %s --listen tcp://127.0.0.1:%d --to tcp://127.0.0.1:%d", out, p1, p1);
    snprintf(cases[n].message, 1024, "tomoline: error: --to: 'tcp://127.0.0.1:%d' is this router's own --listen "
             "(a loop)\n", p1);
    cases[n++].code = 2;
    snprintf(cases[n].args, 512, "-o %s --to tcp://127.0.0.1 --listen tcp://127.0.0.1:%d --report-listen "
             "tcp://127.0.0.1:%d", out, p1, p2);
    snprintf(cases[n].message, 1024, "tomoline: error: --to: worker 1 'tcp://127.0.0.1': Invalid argument (allowed: "
             "tcp://HOST:PORT or ipc://PATH)\n");
    cases[n++].code = 2;
    snprintf(cases[n].args, 512, "-o %s --to tcp://127.0.0.1:%d --listen %s", out, p1, taken_ep);
    snprintf(cases[n].message, 1024, "tomoline: error: --listen '%s': Address already in use (allowed: an endpoint "
             "of this host to bind, e.g. tcp://*:5555, tcp://127.0.0.1:5555 or ipc://PATH)\n", taken_ep);
    cases[n++].code = 1;
    snprintf(cases[n].args, 512, "-o %s --to tcp://127.0.0.1:%d --listen nonsense", out, p1);
    snprintf(cases[n].message, 1024, "tomoline: error: --listen 'nonsense': Invalid argument (allowed: an endpoint of "
             "this host to bind, e.g. tcp://*:5555, tcp://127.0.0.1:5555 or ipc://PATH)\n");
    cases[n++].code = 1;
    snprintf(cases[n].args, 512, "-o %s --to tcp://127.0.0.1:%d --listen tcp://127.0.0.1:%d --report-listen %s", out,
             p1, p2, taken_ep);
    snprintf(cases[n].message, 1024, "tomoline: error: --report-listen '%s': Address already in use (allowed: an "
             "endpoint of this host to bind, e.g. tcp://*:5561, tcp://127.0.0.1:5561 or ipc://PATH)\n", taken_ep);
    cases[n++].code = 1;
    for (int i = 0; i < n; i++) {
        tl_test_run_result r;
        tl_test_run(&r, "route %s", cases[i].args);
        cr_expect_eq(r.exit_code, cases[i].code, "route %s: exit %d (%s)", cases[i].args, r.exit_code, r.err);
        cr_expect_str_eq(r.err, cases[i].message, "route %s", cases[i].args);
        cr_expect_str_eq(r.out, "", "route %s printed %s", cases[i].args, r.out);
    }
    /* and the worker's side: --report-to must be an endpoint; --to is not a serve option */
    tl_test_run_result r;
    tl_test_run(&r, "serve -o %s --report-to gpu1:5561", out);
    cr_expect_eq(r.exit_code, 2);
    cr_expect_str_eq(r.err, "tomoline: error: --report-to 'gpu1:5561' is not a tcp:// or ipc:// endpoint (the "
                            "router's --report-listen as this worker reaches it)\n");
    tl_test_run(&r, "serve -o %s --to tcp://127.0.0.1:5556", out);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "tomoline: error: --to is not an option of ") != NULL &&
                  strstr(r.err, "it is an option of 'tomoline route'\n") != NULL,
              "%s", r.err);
    tl_test_run(&r, "route --help");
    cr_expect_eq(r.exit_code, 0);
    cr_expect(strstr(r.out, "tomoline route --listen tcp://*:5555 --to tcp://gpu1:5556,tcp://gpu2:5556") != NULL);
    /* nothing was written */
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", out);
    cr_expect_eq(system(cmd), 0, "%s is not empty", out);
    zmq_close(taken);
    zmq_ctx_term(ctx);
}
