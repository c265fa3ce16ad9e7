#!/usr/bin/env bash
# run_route.sh - streaming fan-out (issue 9, part 2): time from the first frame
# to the assembled volume for a fixed simulated scan, with 1 and 2 `tomoline
# serve` workers behind `tomoline route`, and the efficiency of 2 workers.
#
# The scan (simulated once): Shepp-Logan, 512 wide x 64 rows x 720 projections,
# uint16 with Poisson noise, 10 flats and 10 darks. `tomoline send` replays it
# without --rate (as fast as the receivers take it) to:
#   serve       one `tomoline serve` alone (no router), for reference: its time
#               from the first frame to the volume = its printed ingest time
#               (scan-start to the last frame) + "volume complete L s after the
#               last frame";
#   route x1    `tomoline route` in front of one worker;
#   route x2    `tomoline route` in front of two workers (rows 0..31 and 32..63);
# for the router cases the time is the router's own figure: "volume complete
# T s after the first frame" (its first frame to the assembled file renamed in
# place; the catalog is not used). Two series:
#   A  same threads in total: workers get --threads CORES/N (the cost of
#      routing on one machine: two workers cannot beat one with twice the threads);
#   B  one thread per worker (--threads 1): each worker has the compute of one
#      core, as each node of a cluster has its own; the scale-out figure this
#      machine can give.
# All reconstruct with --rotation-axis center and the default ramp FBP. Every
# case runs REPEATS times (fresh output directories); median, min, max and
# spread are reported. Efficiency of 2 workers = T(x1) / (2 x T(x2)).
# The 2-worker volume is checked against the 1-worker volume (h5diff, 1e-5).
#
# usage: bench/run_route.sh [BUILD_DIR]   (default build)
# env: REPEATS (3), PORT (first TCP port; default from the process id),
#      SCRATCH (default ${TMPDIR:-/tmp}/tomoline-route-PID, removed at the end
#      unless KEEP_SCRATCH=1), SIZE (512), ROWS (64), ANGLES (720).
# Writes bench/results/route_<date>_<commit>.txt and prints it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${BUILD:-build}}
case $build in /*) ;; *) build=$here/$build ;; esac
tomoline=$build/tomoline
[ -x "$tomoline" ] || { echo "run_route.sh: $tomoline not found (build first)" >&2; exit 1; }
repeats=${REPEATS:-3}
size=${SIZE:-512} rows=${ROWS:-64} angles=${ANGLES:-720}
for v in "$repeats" "$size" "$rows" "$angles"; do
  case $v in ''|*[!0-9]*|0) echo "run_route.sh: '$v' is not a count (REPEATS, SIZE, ROWS, ANGLES: 1, 2, ...)" >&2; exit 2 ;; esac
done
port=${PORT:-$((30000 + $$ % 20000))}
scratch=${SCRATCH:-${TMPDIR:-/tmp}/tomoline-route-$$}
cores=$(nproc)
mkdir -p "$scratch"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "${KEEP_SCRATCH:-0}" = 1 ] || rm -rf "$scratch"
}
trap cleanup EXIT

rev=$(git -C "$here" rev-parse HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$here" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo "-dirty" || true)
short=$(git -C "$here" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$dirty
out=$here/bench/results/route_$(date +%Y%m%d)_${short}.txt

scan=$scratch/scan.nxs
timeout 1800 "$tomoline" sim -o "$scan" --size "$size" --angles "$angles" --slices "$rows" --photons 20000 \
  --no-truth --quiet >/dev/null

# wait_line FILE TEXT SECONDS: poll until FILE holds TEXT
wait_line() {
  local i=0 n=$(( $3 * 20 ))
  while [ $i -lt $n ]; do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05; i=$((i + 1))
  done
  echo "run_route.sh: '$2' did not appear in $1 within $3 s" >&2
  tail -20 "$1" >&2
  return 1
}

# start NAME ARGS...: a tomoline process in the background (under timeout); its pid in $last_pid
start() {
  local name=$1; shift
  timeout -s TERM 3600 "$tomoline" "$@" >"$run/$name.log" 2>&1 &
  last_pid=$!
  pids+=("$last_pid")
}

stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}

# one_run SERIES KIND N THREADS: the seconds from the first frame to the volume, in $result
one_run() {
  local kind=$2 n=$3 threads=$4 k to=""
  run=$scratch/$1-$kind-$n-t$threads-$rep
  mkdir -p "$run/slabs" "$run/out"
  if [ "$kind" = serve ]; then
    port=$((port + 1))
    start serve serve --listen tcp://127.0.0.1:$port -o "$run/out" --rotation-axis center --threads "$threads"
    wait_line "$run/serve.log" "listening on" 30
    timeout 900 "$tomoline" send "$scan" --connect tcp://127.0.0.1:$port --name bench --quiet >/dev/null
    wait_line "$run/serve.log" "tomoline serve: wrote" 900
    stop_all
    result=$(sed -n 's/.* in \([0-9.]*\) s of ingest .*volume complete \([0-9.]*\) s after the last frame.*/\1 \2/p' \
      "$run/serve.log" | awk '{ printf "%.3f\n", $1 + $2 }')
    return
  fi
  for k in $(seq 1 "$n"); do
    port=$((port + 1))
    start "worker$k" serve --listen tcp://127.0.0.1:$port -o "$run/slabs" --rotation-axis center --threads "$threads"
    wait_line "$run/worker$k.log" "listening on" 30
    to=${to:+$to,}tcp://127.0.0.1:$port
  done
  port=$((port + 2))
  start router route --listen tcp://127.0.0.1:$((port - 1)) --report-listen tcp://127.0.0.1:$port --to "$to" \
    -o "$run/out"
  wait_line "$run/router.log" "listening on" 30
  for k in $(seq 1 "$n"); do wait_line "$run/router.log" "worker $((k - 1)) (" 30; done
  timeout 900 "$tomoline" send "$scan" --connect tcp://127.0.0.1:$((port - 1)) --name bench --quiet >/dev/null
  wait_line "$run/router.log" "tomoline route: wrote" 900
  stop_all
  result=$(sed -n 's/.*volume complete \([0-9.]*\) s after the first frame.*/\1/p' "$run/router.log")
}

# stats: median min max spread(%) of the numbers on stdin
stats() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2;
    s = 0; if (m > 0) s = 100 * (v[NR] - v[1]) / m; printf "%.3f %.3f %.3f %.1f\n", m, v[1], v[NR], s }'
}

half=$(( cores / 2 > 0 ? cores / 2 : 1 ))
cases=("ref serve 1 $cores" "A route 1 $cores" "A route 2 $half" "B route 1 1" "B route 2 1")
declare -A times
for rep in $(seq 1 "$repeats"); do
  for c in "${cases[@]}"; do
    set -- $c
    loads="${loads:-} $(cut -d' ' -f1 /proc/loadavg)"
    one_run "$1" "$2" "$3" "$4"
    [ -n "$result" ] || { echo "run_route.sh: no time in the logs of $run" >&2; exit 1; }
    times["$c"]="${times["$c"]:-} $result"
    echo "run_route.sh: repeat $rep, $1: $2 x$3 --threads $4: $result s" >&2
  done
done
# the 2-worker volume equals the 1-worker volume
same=$(h5diff -d 1e-5 "$scratch/B-route-1-t1-1/out/bench.nxs" "$scratch/B-route-2-t1-1/out/bench.nxs" \
  /entry/data/data /entry/data/data >/dev/null 2>&1 && echo "yes (h5diff -d 1e-5: no difference)" ||
  echo "NO: h5diff found differences")
declare -A med
row() { # LABEL CASE
  local m lo hi spr
  read -r m lo hi spr <<<"$(tr ' ' '\n' <<<"${times["$2"]}" | grep . | stats)"
  med["$2"]=$m
  printf "%-44s %9s %9s %9s %7s%%\n" "$1" "$m" "$lo" "$hi" "$spr"
}
ratio() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { printf f, a / b }'; }
{
  echo "# route: streaming fan-out to serve workers (issue 9, part 2), $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "machine:   $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $cores cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -srm)"
  echo "commit:    $short (checkout $here at $rev${dirty:+, modified})"
  echo "binary:    $("$tomoline" --version | head -1); $build"
  echo "scan:      Shepp-Logan $size wide x $rows rows x $angles projections, uint16, Poisson noise (2e4 photons), 10 flats, 10 darks"
  echo "transport: tcp://127.0.0.1 (loopback); tomoline send without --rate (as fast as the receivers take it)"
  echo "recon:     --rotation-axis center, ramp FBP"
  echo "repeats:   $repeats; time = first frame -> volume file, seconds: median, min, max; spread = (max - min) / median"
  echo "#"
  echo "# On this $cores-core machine the sender, the router, the workers and their ZeroMQ I/O threads all share"
  echo "# the same cores. Series A gives every case the same threads in total ($cores): two workers cannot beat"
  echo "# one with twice the threads, so A measures what routing costs on one machine (the router, the split,"
  echo "# two processes, the assembly). Series B gives each worker one thread, as each node of a cluster has"
  echo "# its own compute: the nearest this machine comes to the scale-out that N GPU nodes give (there the"
  echo "# workers would not also share memory bandwidth and the sender's and router's cores)."
  echo
  printf "%-44s %9s %9s %9s %8s\n" "case (2 workers: rows 0..$((rows / 2 - 1)), $((rows / 2))..$((rows - 1)))" "median s" "min s" "max s" "spread"
  row "serve alone, --threads $cores (reference)" "ref serve 1 $cores"
  row "A: route -> 1 worker, --threads $cores" "A route 1 $cores"
  row "A: route -> 2 workers, --threads $half each" "A route 2 $half"
  row "B: route -> 1 worker, --threads 1" "B route 1 1"
  row "B: route -> 2 workers, --threads 1 each" "B route 2 1"
  echo
  echo "router overhead (A x1 vs serve alone): $(awk -v a="${med["A route 1 $cores"]}" -v b="${med["ref serve 1 $cores"]}" 'BEGIN { printf "%+.1f%%", 100 * (a / b - 1) }')"
  echo "A, same threads in total: speed-up $(ratio "${med["A route 1 $cores"]}" "${med["A route 2 $half"]}" "%.2f"), efficiency T1 / (2 T2) $(ratio "${med["A route 1 $cores"]}" "$(awk -v b="${med["A route 2 $half"]}" 'BEGIN { print 2 * b }')" "%.2f")"
  echo "B, one thread per worker: speed-up $(ratio "${med["B route 1 1"]}" "${med["B route 2 1"]}" "%.2f"), efficiency T1 / (2 T2) $(ratio "${med["B route 1 1"]}" "$(awk -v b="${med["B route 2 1"]}" 'BEGIN { print 2 * b }')" "%.2f")"
  echo "2-worker volume equals the 1-worker volume: $same"
  for c in "${cases[@]}"; do echo "raw times (s), $c:${times["$c"]}"; done
  echo "load average (1 min) as each run began, in run order:$loads (above about 2, other work competed for the cores)"
} | tee "$out"
echo "written: $out"
