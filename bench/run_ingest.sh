#!/usr/bin/env bash
# run_ingest.sh - ingest rate of `tomoline serve` against a bare ZeroMQ PULL
# loop (issue 6, "what it must show", second item).
#
# For each case, a uint16 scan is simulated once with `tomoline sim`, then
# REPEATS times:
#   1. bare: bench/bench_pull (PULL socket with serve's message-size limit,
#      ZeroMQ's default high-water mark, decodes the JSON headers only)
#      receives `tomoline send FILE` (no --rate: as fast as the receiver takes
#      it); its rate from scan-start to scan-end is what a receiver that does
#      nothing takes from this sender (bench_pull --read gives the sender's own
#      reading rate, to tell which side limits it);
#   2. service: `tomoline serve --rotation-axis center` (a fresh -o DIR each
#      repeat) receives the same file; the script waits for its "wrote" line,
#      reads the figures it prints, its peak memory (VmHWM), and stops it with
#      SIGINT.
# Everything runs under `timeout` on loopback (tcp://127.0.0.1:PORT).
#
# usage: bench/run_ingest.sh [--quick] [BUILD_DIR]
#   BUILD_DIR (or env BUILD; default build) needs -DTOMOLINE_BENCH=ON.
#   --quick: small scans and REPEATS=1 (a smoke run); the result goes to
#   ${TMPDIR:-/tmp}, not bench/results/.
# env: REPEATS (5), PORT (first TCP port; default from the process id),
#   B_ROWS (256: detector rows of case b), B_RECON_ROWS (16: rows serve
#   reconstructs in case b, "all" for every row), SCRATCH (scratch directory,
#   default ${TMPDIR:-/tmp}/tomoline-ingest-PID, removed at the end unless
#   KEEP_SCRATCH=1), SCAN_DIR (keep the simulated scans there and reuse them),
#   SERVE_ARGS (more options for serve, e.g. "--threads 1 --frame-buffers 64").
# Writes bench/results/ingest_<date>_<commit>.txt and prints it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

quick=0
build=${BUILD:-build}
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run_ingest.sh: $arg: unknown option (allowed: --quick, --help, BUILD_DIR)" >&2; exit 2 ;;
    *) build=$arg ;;
  esac
done
case $build in /*) ;; *) build=$here/$build ;; esac
tomoline=$build/tomoline
pull=$build/bench/bench_pull
for exe in "$tomoline" "$pull"; do
  [ -x "$exe" ] || { echo "run_ingest.sh: $exe not found; build with -DTOMOLINE_BENCH=ON" >&2; exit 1; }
done

if [ "$quick" = 1 ]; then
  repeats=${REPEATS:-1}
  b_rows=${B_ROWS:-32}
  b_recon_rows=${B_RECON_ROWS:-all}
  # name width rows angles
  b_width=256
  cases=("a 128 128 180" "b $b_width $b_rows 300")
else
  repeats=${REPEATS:-5}
  b_rows=${B_ROWS:-256}
  b_recon_rows=${B_RECON_ROWS:-16}
  b_width=2048
  cases=("a 512 512 720" "b $b_width $b_rows 1500")
fi
case $repeats in ''|*[!0-9]*|0) echo "run_ingest.sh: REPEATS=$repeats: not a count (allowed: 1, 2, ...)" >&2; exit 2 ;; esac
case $b_recon_rows in all) ;; ''|*[!0-9]*|0)
  echo "run_ingest.sh: B_RECON_ROWS=$b_recon_rows: not a row count (allowed: 1, 2, ... or all)" >&2; exit 2 ;; esac
port=${PORT:-$((20000 + $$ % 20000))}
scratch=${SCRATCH:-${TMPDIR:-/tmp}/tomoline-ingest-$$}
scan_dir=${SCAN_DIR:-$scratch}
# bounds on every step (seconds): nothing can hang
t_sim=1800 t_send=900 t_pull=900 t_start=30 t_volume=3600 t_stop=60

# The commit: the revision the binary was built from (`git describe --dirty` at
# build time), which is what is measured; the checkout's HEAD when it has none.
rev=$(git -C "$here" rev-parse HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$here" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo "-dirty" || true)
binary_rev=$("$tomoline" --version | sed -n '1s/.*(git \(.*\)).*/\1/p')
case $binary_rev in
  ''|unknown) short=$(git -C "$here" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$dirty ;;
  *) short=$binary_rev ;;
esac
if [ "$quick" = 1 ]; then
  out=${TMPDIR:-/tmp}/ingest_quick_$(date +%Y%m%d)_${short}.txt
else
  out=$here/bench/results/ingest_$(date +%Y%m%d)_${short}.txt
fi

mkdir -p "$scratch" "$scan_dir"
scratch=$(cd "$scratch" && pwd) scan_dir=$(cd "$scan_dir" && pwd)
cd "$scratch"  # whatever a tool writes beside itself lands in scratch, not in the tree
bg_pids=()
# Stops what this script started, by process id: TERM, then KILL after 3 s (a
# serve that is finishing a scan finishes it before it exits on TERM; `timeout`
# runs its command in a process group of its own, so serve's own pid is kept).
cleanup() {
  local pid left i
  for pid in "${bg_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = 0; i < 30; i++)); do
    left=0
    for pid in "${bg_pids[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
    [ "$left" = 1 ] || break
    sleep 0.1
  done
  for pid in "${bg_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  if [ "${KEEP_SCRATCH:-0}" != 1 ]; then
    rm -f "$out.tmp"
    rm -rf "$scratch"  # scans in SCAN_DIR, when set, are kept on purpose
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
die() { echo "run_ingest.sh: $*" >&2; exit 1; }

# Polls: every 50 ms for the first 5 s of a wait, then every 0.5 s (a waiting
# script must not take CPU from what it measures on a machine of few cores).
poll_sleep() { if [ "$1" -lt 100 ]; then sleep 0.05; else sleep 0.5; fi; }

# wait_for FILE PATTERN SECONDS [PID]: 0 once PATTERN is in FILE; 1 after
# SECONDS, or as soon as PID is gone without having written it
wait_for() {
  local deadline=$((SECONDS + $3)) polls=0
  while ! grep -q -- "$2" "$1" 2>/dev/null; do
    if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
      grep -q -- "$2" "$1" 2>/dev/null && return 0
      return 1
    fi
    [ "$SECONDS" -lt "$deadline" ] || return 1
    poll_sleep $((polls++))
  done
}

# wait_volume LOG ERRLOG PID SECONDS: 0 once serve printed its "wrote" line; 1
# as soon as it refused, discarded or failed the scan (its log says why), or
# died, or after SECONDS
wait_volume() {
  local deadline=$((SECONDS + $4)) polls=0
  while ! grep -q "^tomoline serve: wrote" "$1" 2>/dev/null; do
    grep -qE "serve: scan '[^']*' (refused|discarded)|reconstruction failed" "$2" 2>/dev/null && return 1
    kill -0 "$3" 2>/dev/null || { grep -q "^tomoline serve: wrote" "$1" 2>/dev/null; return; }
    [ "$SECONDS" -lt "$deadline" ] || return 1
    poll_sleep $((polls++))
  done
}

# wait_pid PID SECONDS: wait for a child we started, SIGKILL it after SECONDS
wait_pid() {
  local deadline=$((SECONDS + $2)) polls=0
  while kill -0 "$1" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then kill -KILL "$1" 2>/dev/null || true; break; fi
    poll_sleep $((polls++))
  done
  wait "$1" 2>/dev/null || true
}

# stats VALUES...: "median (min..max)" of the numeric values, n/a when none
stats() {
  printf '%s\n' "$@" | { grep -E '^[-+0-9.eE]+$' || true; } | sort -g |
    awk -v fmt="${FMT:-%.1f}" '{ v[NR] = $1 } END {
      if (NR == 0) { print "n/a"; exit }
      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf fmt " (" fmt ".." fmt ")\n", m, v[1], v[NR] }'
}
median() { stats "$@" | awk '{ print $1 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a"; else printf "%.3f", a / b }'; }

# run_send FILE ENDPOINT LOG: sets send_wall, send_cpu_pct, send_fps
run_send() {
  local tfile=$3.time rc=0
  {
    TIMEFORMAT='%R %U %S'
    time timeout "$t_send" "$tomoline" send "$1" --connect "$2" --progress none -q >"$3" 2>&1
  } 2>"$tfile" || rc=$?
  if [ "$rc" != 0 ]; then
    cat "$3" >&2
    die "tomoline send $1 --connect $2 failed (exit $rc)"
  fi
  read -r send_wall u s <"$tfile"
  send_cpu_pct=$(awk -v r="$send_wall" -v u="$u" -v s="$s" 'BEGIN { printf "%.0f", (r > 0 ? 100 * (u + s) / r : 0) }')
  send_fps=$(sed -n 's/.* in [0-9.]* s (\([0-9.]*\) frames\/s).*/\1/p' "$3")
  send_fps=${send_fps:-n/a}
}

machine_line() {
  local model
  model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
  printf '%s, %s cores, %s, %s\n' "${model:-$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')}" \
    "$(nproc)" "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)" "$(uname -srm)"
}

run_case() {
  local name=$1 width=$2 rows=$3 angles=$4 recon_rows=$5
  local scan=$scan_dir/ingest_${name}_${width}x${rows}x${angles}.nxs
  local frames=$((angles + 20)) frame_mb
  frame_mb=$(awk -v w="$width" -v r="$rows" 'BEGIN { printf "%.2f", w * r * 2 / 1e6 }')
  local serve_extra=()
  [ "$recon_rows" = all ] || serve_extra=(--end-row "$recon_rows")
  # shellcheck disable=SC2206  # SERVE_ARGS is a list of words on purpose
  serve_extra+=(${SERVE_ARGS:-})

  if [ ! -s "$scan" ]; then
    local t0 t1
    t0=$(now)
    timeout "$t_sim" "$tomoline" sim -o "$scan" --size "$width" --slices "$rows" --angles "$angles" \
      --pixel-type uint16 --no-truth --overwrite --progress none -q >&2 ||
      die "tomoline sim of case $name failed"
    t1=$(now)
    echo "  simulated $scan in $(elapsed "$t0" "$t1") s" >&2
  fi
  local file_mb
  file_mb=$(du -m "$scan" | cut -f1)

  local bare_fps=() bare_mbs=() bare_t=() bare_cpu=() bare_rss=() bsend_wall=() bsend_fps=() bsend_cpu=()
  local srv_fps=() srv_mbs=() srv_t=() srv_lat=() srv_mem=() srv_hwm=() srv_end=() srv_total=()
  local ssend_wall=() ssend_fps=() ssend_cpu=() pair_ratio=() read_fps=() read_mbs=() loads=() stage_lines=() serve_format=old r
  for ((r = 1; r <= repeats; r++)); do
    loads+=("$(cut -d' ' -f1 /proc/loadavg)")
    # 0. the sender's own work, no socket: read and convert every frame as send does
    local rlog=$scratch/read_${name}_$r.log rf rm_
    timeout "$t_send" "$pull" --read "$scan" >"$rlog" 2>&1 || { cat "$rlog" >&2; die "bench_pull --read $scan failed"; }
    read -r rf rm_ <<<"$(sed -n 's/^bench_pull: read .* s (\([0-9.]*\) frames\/s, \([0-9.]*\) MB\/s).*/\1 \2/p' "$rlog")"
    read_fps+=("${rf:-n/a}") read_mbs+=("${rm_:-n/a}")

    # 1. bare loop
    local ep="tcp://127.0.0.1:$port" plog=$scratch/pull_${name}_$r.log ppid line
    port=$((port + 1))
    timeout "$t_pull" "$pull" --listen "$ep" --scans 1 >"$plog" 2>&1 &
    ppid=$!
    bg_pids+=("$ppid")
    wait_for "$plog" "bench_pull: listening" "$t_start" "$ppid" || { cat "$plog" >&2; die "bench_pull did not start"; }
    run_send "$scan" "$ep" "$scratch/send_bare_${name}_$r.log"
    wait_pid "$ppid" "$t_stop"
    line=$(grep "^bench_pull: scan '.*': [0-9]* frames," "$plog" | head -1 || true)
    [ -n "$line" ] || { cat "$plog" >&2; die "bench_pull printed no scan line (case $name, repeat $r)"; }
    read -r _ _ bt bf bm <<<"$(sed -n \
      's/.*: \([0-9]*\) frames, \([0-9]*\) bytes in \([0-9.]*\) s (\([0-9.]*\) frames\/s, \([0-9.]*\) MB\/s).*/\1 \2 \3 \4 \5/p' \
      <<<"$line")"
    bare_t+=("$bt") bare_fps+=("$bf") bare_mbs+=("$bm")
    bare_cpu+=("$(sed -n 's/.*of scans (\([0-9.]*\)% of one core).*/\1/p' "$plog")")
    bare_rss+=("$(sed -n 's/.*peak RSS \([0-9.]*\) MiB.*/\1/p' "$plog")")
    bsend_wall+=("$send_wall") bsend_fps+=("$send_fps") bsend_cpu+=("$send_cpu_pct")
    echo "  case $name repeat $r: bare $bf frames/s ($bm MB/s), send ${send_fps} frames/s at ${send_cpu_pct}% CPU," \
         "reading alone ${rf:-n/a} frames/s" >&2

    # 2. the service
    local dir=$scratch/out_${name}_$r slog=$scratch/serve_${name}_$r.log tpid spid t_sent t_file hwm
    mkdir -p "$dir"
    ep="tcp://127.0.0.1:$port"
    port=$((port + 1))
    timeout "$t_volume" "$tomoline" serve --listen "$ep" -o "$dir" --rotation-axis center --progress none \
      "${serve_extra[@]}" >"$slog" 2>"$slog.err" &
    tpid=$!
    bg_pids+=("$tpid")
    wait_for "$slog" "tomoline serve: listening" "$t_start" "$tpid" ||
      { cat "$slog" "$slog.err" >&2; die "tomoline serve did not start"; }
    spid=$(pgrep -P "$tpid" | head -1 || true)
    [ -n "$spid" ] || die "cannot find the serve process under timeout (pid $tpid)"
    bg_pids+=("$spid")
    run_send "$scan" "$ep" "$scratch/send_serve_${name}_$r.log"
    t_sent=$(now)
    wait_volume "$slog" "$slog.err" "$spid" "$t_volume" ||
      { grep -v "of unknown scan" "$slog.err" | tail -8 >&2; die "tomoline serve wrote no volume (case $name, repeat $r)"; }
    t_file=$(now)
    hwm=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$spid/status" 2>/dev/null || true)
    kill -INT "$spid" 2>/dev/null || true
    wait_pid "$tpid" "$t_stop"
    kill -KILL "$spid" 2>/dev/null || true  # only if it outlived t_stop and its timeout wrapper
    line=$(grep "^tomoline serve: wrote" "$slog" | head -1)
    local sf=n/a sm=n/a st=n/a sl=n/a sp=n/a re_num='([0-9.eE+-]+)'
    if [[ $line =~ :\ ([0-9]+)\ frames,\ ([0-9]+)\ bytes\ in\ $re_num\ s\ of\ ingest\ \($re_num\ frames/s,\ $re_num\ MB/s\) ]]; then
      st=${BASH_REMATCH[3]} sf=${BASH_REMATCH[4]} sm=${BASH_REMATCH[5]}
      serve_format=new
    fi
    [[ $line =~ volume\ complete\ $re_num\ s\ after\ the\ last\ frame ]] && sl=${BASH_REMATCH[1]}
    [[ $line =~ peak\ memory\ $re_num\ MiB ]] && sp=${BASH_REMATCH[1]}
    # serve's own account of where the time went (its log line, when it has one)
    stage_lines+=("$(sed -n 's/^tomoline: serve: scan .* slices, axis [^;]*; \(.*\)/\1/p' "$slog.err" | head -1)")
    srv_fps+=("$sf") srv_mbs+=("$sm") srv_t+=("$st") srv_lat+=("$sl") srv_mem+=("$sp") srv_hwm+=("${hwm:-n/a}")
    srv_end+=("$(elapsed "$t_sent" "$t_file")")
    srv_total+=("$(awk -v a="$send_wall" -v b="$(elapsed "$t_sent" "$t_file")" 'BEGIN { printf "%.3f", a + b }')")
    ssend_wall+=("$send_wall") ssend_fps+=("$send_fps") ssend_cpu+=("$send_cpu_pct")
    pair_ratio+=("$(ratio "$sf" "$bf")")
    echo "  case $name repeat $r: serve $sf frames/s ($sm MB/s), volume $sl s after the last frame" \
         "($(elapsed "$t_sent" "$t_file") s after send returned), VmHWM ${hwm:-n/a} MiB" >&2
    rm -rf "$dir"
  done

  local fmed bmed
  fmed=$(median "${srv_fps[@]}")
  bmed=$(median "${bare_fps[@]}")
  echo "## case $name: $width wide x $rows rows x $angles projections, uint16 (+ 10 flats, 10 darks: $frames frames of $frame_mb MB)"
  echo "scan file: $file_mb MiB NXtomo (tomoline sim, noise-free Shepp-Logan); read from the page cache after the first send"
  if [ "$recon_rows" = all ]; then
    echo "serve: --rotation-axis center${SERVE_ARGS:+ $SERVE_ARGS}, reconstructs all $rows rows ($width x $width slices)"
  else
    echo "serve: --rotation-axis center --end-row $recon_rows${SERVE_ARGS:+ $SERVE_ARGS}: receives all $rows rows of each frame, reconstructs the first"
    echo "       $recon_rows ($width x $width slices; all $rows would take about $rows / $recon_rows times the reconstruction time)"
  fi
  echo "repeats: $repeats; each figure: median (min..max)"
  FMT=%.2f
  printf '  %-44s %s\n' "load average (1 min) as each repeat began" "$(stats "${loads[@]}")"
  FMT=%.1f
  printf '  %-44s %s\n' "bare loop, frames/s" "$(stats "${bare_fps[@]}")"
  printf '  %-44s %s\n' "bare loop, MB/s" "$(stats "${bare_mbs[@]}")"
  printf '  %-44s %s\n' "bare loop, CPU (% of one core)" "$(stats "${bare_cpu[@]}")"
  printf '  %-44s %s\n' "bare loop, peak RSS MiB" "$(stats "${bare_rss[@]}")"
  printf '  %-44s %s\n' "sender's reading alone, frames/s" "$(stats "${read_fps[@]}")"
  printf '  %-44s %s\n' "sender's reading alone, MB/s" "$(stats "${read_mbs[@]}")"
  printf '  %-44s %s\n' "send to bare loop, frames/s" "$(stats "${bsend_fps[@]}")"
  printf '  %-44s %s\n' "send to bare loop, CPU (% of one core)" "$(stats "${bsend_cpu[@]}")"
  printf '  %-44s %s\n' "service, frames/s" "$(stats "${srv_fps[@]}")"
  printf '  %-44s %s\n' "service, MB/s" "$(stats "${srv_mbs[@]}")"
  FMT=%.3f
  printf '  %-44s %s\n' "ratio service/bare (per repeat)" "$(stats "${pair_ratio[@]}")"
  printf '  %-44s %s\n' "ratio service/bare (of the medians)" "$(ratio "$fmed" "$bmed")"
  FMT=%.2f
  printf '  %-44s %s\n' "service, s of ingest" "$(stats "${srv_t[@]}")"
  printf '  %-44s %s\n' "bare loop, s of ingest" "$(stats "${bare_t[@]}")"
  printf '  %-44s %s\n' "service, last frame -> volume, s" "$(stats "${srv_lat[@]}")"
  printf '  %-44s %s\n' "service, send returned -> volume, s" "$(stats "${srv_end[@]}")"
  printf '  %-44s %s\n' "service, send started -> volume, s" "$(stats "${srv_total[@]}")"
  FMT=%.1f
  printf '  %-44s %s\n' "service, peak memory MiB (serve's line)" "$(stats "${srv_mem[@]}")"
  printf '  %-44s %s\n' "service, peak RSS MiB (VmHWM)" "$(stats "${srv_hwm[@]}")"
  printf '  %-44s %s\n' "send to service, frames/s" "$(stats "${ssend_fps[@]}")"
  printf '  %-44s %s\n' "send to service, CPU (% of one core)" "$(stats "${ssend_cpu[@]}")"
  for ((r = 1; r <= repeats; r++)); do
    [ -z "${stage_lines[r - 1]}" ] || echo "  serve's stages, repeat $r: ${stage_lines[r - 1]}" | fold -s -w 112 | sed 's/ *$//; 2,$s/^/      /'
  done
  [ "$serve_format" = new ] ||
    echo "  (this serve prints only 'wrote OUT (scan ID)': its ingest figures, latency and memory are n/a)"
  # Which side limits the bare loop. A receiver busy less than half the time
  # waits for frames: the sender (reading HDF5, converting, handing each frame
  # to ZeroMQ, all in one thread) sets the rate.
  local rmed bcpu scpu
  rmed=$(median "${read_fps[@]}") bcpu=$(median "${bare_cpu[@]}") scpu=$(median "${bsend_cpu[@]}")
  echo "  what limits the bare loop: it was busy ${bcpu}% of a core, send ${scpu}% (its reading thread and its ZeroMQ"
  echo "  I/O thread); send reads and converts alone at ${rmed} frames/s, $(ratio "$rmed" "$bmed") x the bare rate."
  if awk -v c="$bcpu" 'BEGIN { exit !(c != "n/a" && c + 0 < 50) }'; then
    if awk -v b="$bmed" -v r="$rmed" 'BEGIN { exit !(b != "n/a" && r != "n/a" && b + 0 >= 0.8 * r) }'; then
      echo "  => the sender: the bare loop takes frames as fast as send can read them (HDF5 read and conversion)."
    else
      echo "  => the sender: reading, plus handing each frame to ZeroMQ in the same thread, is all send can do."
    fi
    echo "  The bare figure is what this sender delivers, a lower bound of what a PULL loop takes on this machine."
  else
    echo "  => the receiving side (ZeroMQ's per-message cost, loopback TCP) on $(nproc) shared cores."
  fi
  echo
}

{
  echo "# ingest: tomoline serve against a bare ZeroMQ PULL loop (issue 6, \"what it must show\", 2nd item)"
  echo "date:      $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine:   $(machine_line)"
  echo "commit:    binaries built at ${binary_rev:-unknown} (git describe --dirty at build time); checkout $here" \
       "at $rev${dirty:+, modified}"
  echo "binary:    $("$tomoline" --version | head -1); $("$tomoline" --version | sed -n 's/^libraries: //p')"
  echo "build:     $build ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null || echo ?))"
  echo "transport: tcp://127.0.0.1 (loopback); tomoline send without --rate (as fast as the receiver takes it)"
  echo "mode:      $([ "$quick" = 1 ] && echo "--quick (smoke run: small scans)" || echo full), REPEATS=$repeats"
  echo "#"
  echo "# bare loop      bench/bench_pull: a PULL socket with serve's message-size limit that decodes the JSON"
  echo "#                headers only (ZeroMQ's default receive high-water mark; serve sets --frame-buffers);"
  echo "#                frames/s and MB/s (10^6 bytes of pixels) from the arrival of scan-start to that of scan-end;"
  echo "#                CPU of its threads (ZeroMQ's I/O thread included) over that time, in % of one core."
  echo "# service        tomoline serve, from its line 'wrote OUT (scan ID): F frames, B bytes in T s of ingest"
  echo "#                (R frames/s, M MB/s), volume complete L s after the last frame; peak memory P MiB'"
  echo "#                (n/a where this serve does not print a figure)."
  echo "# ratio          service frames/s / bare frames/s: 1 means serve takes frames as fast as a bare socket."
  echo "# last frame -> volume     L from serve's line: the latency the beamline sees."
  echo "# send returned -> volume  measured outside, polling for the 'wrote' line (every 50 ms for 5 s, then every"
  echo "#                0.5 s); includes the frames still queued in ZeroMQ when send returns."
  echo "# serve's stages  its own log line per volume (where it prints one): seconds per stage, summed over its"
  echo "#                threads, and how many projections were backprojected before scan-end."
  echo "# sender's reading alone  bench_pull --read: send's loop (HDF5 read, uint16 conversion), no socket."
  echo "# send ...       tomoline send's own figures: its printed frames/s (wall time including opening the file)"
  echo "#                and its CPU (user + sys) / wall, in % of one core. A bare rate close to the reading rate"
  echo "#                means the sender, not the receiver, limits the bare loop."
  echo "# The machine has $(nproc) cores: sender, receiver and their ZeroMQ I/O threads share them, and with"
  echo "# whatever else runs (the load average, recorded as each repeat begins, counts runnable processes;"
  echo "# above about $(nproc) other work competes with the benchmark and widens the spread)."
  echo
  for c in "${cases[@]}"; do
    read -r name width rows angles <<<"$c"
    if [ "$name" = b ]; then
      echo "  case b: $width x $rows x $angles (rows limited to $rows so that the scan and what serve holds fit disk" \
           "and memory)" >&2
      run_case "$name" "$width" "$rows" "$angles" "$b_recon_rows"
    else
      run_case "$name" "$width" "$rows" "$angles" all
    fi
  done
  echo "case b's detector is cut to $b_rows rows so that the scan file and what serve holds fit this machine's disk"
  echo "and memory; ingest rates depend on bytes per frame, and these frames are $((b_width * b_rows * 2 / 1024)) KiB."
} >"$out.tmp"  # not through a pipe: a subshell would not stop its background processes on failure
mv "$out.tmp" "$out"
cat "$out"
echo "written: $out"
