#!/usr/bin/env bash
# run_cpu_recon.sh - the CPU reconstruction speeds of issue 8 in one run on one
# machine: slices per second of tomoline's gridrec and direct FBP, and of UFO's
# backproject pipeline on the PoCL OpenCL CPU device, at 1024 x 900 and
# 2048 x 1500 (detector columns x angles), with 1 and 2 threads.
#
# usage: bench/run_cpu_recon.sh [--install-ufo] [--reps N] [--no-ufo]
#   --install-ufo  apt-get install ufo-filters libufo-bin pocl-opencl-icd first
#                  (needs root); without it UFO is measured when ufo-launch is
#                  present and skipped (with a line saying so) when it is not
#   --reps N       timed repetitions per case (default 3); the figure is the median
#   --no-ufo       measure tomoline only
#
# What is timed (compute only, data in memory, the same work on both sides):
#   tomoline  bench_fbp kernel: copy the sinograms into the plan, ramp filter and
#             backproject (fbp), or gridrec of the unfiltered sinograms, after one
#             untimed warm-up run; slabs of 8 slices.
#   UFO       ufo-launch dummy-data ! fft ! filter ! ifft ! backproject ! null
#             download=true finish=true (ramp filter and backprojection, the result
#             read back to the host). UFO starts by compiling its OpenCL kernels, so
#             its rate is the difference of two runs, (N2 - N1) / (t2 - t1), which
#             leaves out start-up and compilation. PoCL's CPU device has no OpenCL
#             images here (backproject mode=texture fails with CL_INVALID_OPERATION), so
#             UFO runs mode=nearest: nearest-neighbour interpolation, less work per
#             update than tomoline's linear interpolation.
#   Threads   1 thread: taskset -c 0 for both, tomoline --threads 1 and
#             POCL_MAX_PTHREAD_COUNT=1; 2 threads: both cores.
# Writes bench/results/cpu_recon_<date>_<commit>.txt and prints it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
install_ufo=0
reps=3
use_ufo=1
while [ $# -gt 0 ]; do
    case $1 in
    --install-ufo) install_ufo=1 ;;
    --reps) reps=$2; shift ;;
    --no-ufo) use_ufo=0 ;;
    -h | --help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "run_cpu_recon.sh: error: unknown argument '$1' (allowed: --install-ufo, --reps N, --no-ufo)" >&2; exit 2 ;;
    esac
    shift
done
case $reps in '' | *[!0-9]* | 0) echo "run_cpu_recon.sh: error: --reps '$reps' is not a positive integer" >&2; exit 2 ;; esac

if [ $install_ufo = 1 ]; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q ufo-filters libufo-bin pocl-opencl-icd >/dev/null
fi
ufo_why=""
if [ $use_ufo = 0 ]; then
    ufo_why="--no-ufo"
elif ! command -v ufo-launch >/dev/null 2>&1; then
    ufo_why="ufo-launch is not installed (run with --install-ufo)"
fi

scripts/build.sh >/dev/null # the measured binary is the checked-out commit
rev=$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
out="bench/results/cpu_recon_$(date +%Y%m%d)_${rev}.txt"
work=$(mktemp -d "${TMPDIR:-/tmp}/tomoline-cpu-recon.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
rows=$work/rows.txt
: >"$rows"

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s..%s", lo, hi }'; }
pin() { if [ "$1" = 1 ]; then echo "taskset -c 0"; fi; }

# tomoline: one bench_fbp run gives the median over its reps
run_tomoline() { # ALGORITHM W ANGLES THREADS
    local alg=$1 w=$2 na=$3 t=$4 slices=8
    # shellcheck disable=SC2046
    $(pin "$t") build/bench/bench_fbp kernel "$w" "$na" "$slices" "$reps" "$t" "$alg" >"$work/tl.txt"
    cat "$work/tl.txt" >>"$work/details.txt"
    echo >>"$work/details.txt"
    awk '/^result:/ { printf "%s %s %s %s %s %s %s\n", $3, $4, $5, $6, $7, $8, $9 }' "$work/tl.txt" >>"$rows"
}

ufo_seconds() { # W ANGLES THREADS SLICES -> wall seconds of one pipeline run
    local w=$1 na=$2 t=$3 n=$4 t0 t1
    t0=$(date +%s.%N)
    # shellcheck disable=SC2046
    env UFO_DEVICE_TYPE=cpu POCL_MAX_PTHREAD_COUNT="$t" $(pin "$t") ufo-launch -q \
        dummy-data width="$w" height="$na" number="$n" ! fft dimensions=1 ! filter ! \
        ifft dimensions=1 crop-width="$w" ! backproject axis-pos="$(awk -v w="$w" 'BEGIN { print (w - 1) / 2 }')" \
        mode=nearest ! null download=true finish=true >"$work/ufo.log" 2>&1 ||
        { echo "run_cpu_recon.sh: ufo-launch failed:" >&2; tail -5 "$work/ufo.log" >&2; return 1; }
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
}

run_ufo() { # W ANGLES THREADS
    local w=$1 na=$2 t=$3 n1 n2 r a b rates=""
    # enough slices that the difference is several seconds of backprojection
    if [ "$w" -le 1024 ]; then n1=2; n2=10; else n1=1; n2=3; fi
    ufo_seconds "$w" "$na" "$t" 1 >/dev/null # compile the kernels into PoCL's cache
    for r in $(seq "$reps"); do
        a=$(ufo_seconds "$w" "$na" "$t" $n1)
        b=$(ufo_seconds "$w" "$na" "$t" $n2)
        rates="$rates $(awk -v a="$a" -v b="$b" -v n=$((n2 - n1)) 'BEGIN { printf "%.4f", n / (b - a) }')"
        echo "ufo ${w}x${na} threads $t: $n1 slices $a s, $n2 slices $b s" >>"$work/details.txt"
    done
    local med lohi
    med=$(printf '%s\n' $rates | median)
    lohi=$(printf '%s\n' $rates | minmax)
    echo "ufo $w $na $t $med ${lohi%..*} ${lohi#*..}" >>"$rows"
    echo >>"$work/details.txt"
}

for size in "1024 900" "2048 1500"; do
    set -- $size
    for t in 1 2; do
        echo "measuring ${1}x${2}, $t thread(s)..." >&2
        run_tomoline gridrec "$1" "$2" "$t"
        run_tomoline fbp "$1" "$2" "$t"
        if [ -z "$ufo_why" ]; then run_ufo "$1" "$2" "$t"; fi
    done
done

{
    build/bench/bench_fbp info | sed 's/^# CPU reconstruction path.*/# CPU reconstruction speed: tomoline gridrec and FBP vs UFO backproject on PoCL (bench\/run_cpu_recon.sh)/'
    echo "build:    Release (-O3), FFTW $(pkg-config --modversion fftw3f)"
    if [ -z "$ufo_why" ]; then
        echo "peer:     UFO $(dpkg-query -W -f '${Version}' libufo-bin 2>/dev/null || echo ?) (ufo-filters" \
            "$(dpkg-query -W -f '${Version}' ufo-filters 2>/dev/null || echo ?)), PoCL" \
            "$(dpkg-query -W -f '${Version}' pocl-opencl-icd 2>/dev/null || echo ?) OpenCL CPU device, backproject mode=nearest"
    else
        echo "peer:     UFO not measured: $ufo_why"
    fi
    echo "repeats:  $reps per case; slices/s median (min..max)"
    echo "TomoPy:   not installable here (no Debian package, no PyPI access); the issue's figure for TomoPy gridrec on"
    echo "          2 cores at 1024 x 900 is ~23 slices/s unpadded and ~7 slices/s with the padding its accuracy needs."
    echo
    printf '%-10s %-8s %-22s %-22s %-22s %-10s %-12s\n' size threads gridrec fbp ufo fbp/ufo gridrec/ufo
    awk '
        { key = $2 "x" $3 " " $4; r[$1, key] = $5; lo[$1, key] = $6; hi[$1, key] = $7; if (!(key in seen)) { order[++n] = key; seen[key] = 1 } }
        function cell(a, k) { return ((a, k) in r) ? sprintf("%.2f (%.2f..%.2f)", r[a, k], lo[a, k], hi[a, k]) : "-" }
        function ratio(a, b, k) { return (((a, k) in r) && ((b, k) in r) && r[b, k] > 0) ? sprintf("%.1fx", r[a, k] / r[b, k]) : "-" }
        END {
            for (i = 1; i <= n; i++) {
                k = order[i]; split(k, part, " ")
                printf "%-10s %-8s %-22s %-22s %-22s %-10s %-12s\n", part[1], part[2], cell("gridrec", k), cell("fbp", k),
                       cell("ufo", k), ratio("fbp", "ufo", k), ratio("gridrec", "ufo", k)
            }
        }' "$rows"
    echo
    echo "gridrec at 1024x900, 2 threads vs the issue's TomoPy padded gridrec figure (7 slices/s):" \
        "$(awk '$1 == "gridrec" && $2 == 1024 && $4 == 2 { printf "%.1fx", $5 / 7 }' "$rows")"
    echo
    echo "# details"
    cat "$work/details.txt"
} | tee "$out"
echo "written: $out"
