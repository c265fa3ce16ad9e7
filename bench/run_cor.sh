#!/bin/sh
# run_cor.sh - accuracy and time of every centre-of-rotation method over a
# set of simulated scans (issue 4): random axis offsets within +-25 px,
# Poisson noise, 180- and 360-degree arcs, a third of them with rings.
#
# usage: bench/run_cor.sh [BUILD_DIR] [N_SCANS] [METHODS]
#   BUILD_DIR  where tomoline was built (default: build)
#   N_SCANS    how many scans (default: 24)
#   METHODS    space-separated (default: "registration vo entropy cnn auto");
#              METHOD@fbp or METHOD@gridrec: the trial slices of entropy/cnn by that
#              algorithm (--rotation-axis-algorithm; plain METHOD: its default, auto)
# Writes bench/results/${COR_BENCH_NAME:-cor}_<date>_<commit>.txt and prints it
# (COR_BENCH_SIZE, COR_BENCH_ANGLES, COR_BENCH_PHOTONS set the scans).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$here/$build ;; esac
n_scans=${2:-24}
methods=${3:-"registration vo entropy cnn auto"}
exe=$build/tomoline
[ -x "$exe" ] || { echo "run_cor.sh: $exe not found; build first (scripts/build.sh)" >&2; exit 1; }
size=${COR_BENCH_SIZE:-256}
angles=${COR_BENCH_ANGLES:-360}
photons=${COR_BENCH_PHOTONS:-10000}
work=$(mktemp -d "${TMPDIR:-/tmp}/tomoline-cor-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
commit=$(git -C "$here" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$here" status --porcelain --untracked-files=no 2>/dev/null | head -n 1)
[ -n "$dirty" ] && commit="$commit+dirty"
out=$here/bench/results/${COR_BENCH_NAME:-cor}_$(date +%Y%m%d)_${commit%+dirty}.txt
rows=$work/rows.txt
: > "$rows"

i=0
while [ $i -lt "$n_scans" ]; do
    # deterministic scan parameters from the scan index
    offset=$(awk -v i=$i 'BEGIN { srand(1000 + i); printf "%.2f", -25 + 50 * rand() }')
    if [ $((i % 2)) -eq 0 ]; then arc=180; else arc=360; fi
    if [ $((i % 4)) -lt 2 ]; then phantom=ellipses; else phantom=shepp-logan; fi
    rings=no; ring_flags=""
    if [ $((i % 3)) -eq 2 ]; then rings=yes; ring_flags="--gain-error 0.002 --defective-columns 4 --defect-strength 0.1"; fi
    scan=$work/scan$i.nxs
    # shellcheck disable=SC2086
    "$exe" sim -q -o "$scan" --size "$size" --angles "$angles" --slices 8 --arc $arc --axis-offset "$offset" \
        --phantom $phantom --seed $((i + 1)) --photons "$photons" $ring_flags --progress none >/dev/null
    truth=$(awk -v s="$size" -v o="$offset" 'BEGIN { printf "%.3f", (s - 1) / 2 + o }')
    for m in $methods; do
        alg=auto
        case $m in *@*) alg=${m#*@} ;; esac
        json=$("$exe" cor "$scan" -q --rotation-axis-method "${m%@*}" --rotation-axis-algorithm "$alg" --json \
            2>"$work/err" || true)
        axis=$(printf '%s' "$json" | sed -n 's/.*"rotation_axis": \([-0-9.]*\), "method".*/\1/p')
        secs=$(printf '%s' "$json" | sed -n 's/.*"seconds": \([0-9.]*\), "detector_centre".*/\1/p')
        if [ -z "$axis" ]; then axis=nan; secs=nan; fi
        echo "$i $arc $phantom $rings $truth $m $axis $secs" >> "$rows"
    done
    i=$((i + 1))
done

{
    echo "# Centre of rotation: error and time per method (bench/run_cor.sh)"
    echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "# machine: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "# commit: $commit"
    echo "# scans: $n_scans, ${size} wide, $angles angles, 8 rows, Poisson noise ($photons photons/pixel in the flats),"
    echo "#        offsets uniform in +-25 px (seeded), arcs alternate 180/360, phantoms ellipses/shepp-logan,"
    echo "#        every third scan with rings (--gain-error 0.002, 4 defective columns of 10%)"
    echo "# tomoline cor SCAN --rotation-axis-method M --json; time is the search alone (rows read + method)"
    echo "#"
    echo "# per scan: error = found - true axis (px)"
    printf '%-5s %-4s %-12s %-5s %-9s' scan arc phantom rings truth
    for m in $methods; do printf ' %12s' "$m"; done
    echo
    awk -v methods="$methods" '
        BEGIN { nm = split(methods, M, " ") }
        { key = $1; arc[key] = $2; ph[key] = $3; rg[key] = $4; tr[key] = $5; ax[key, $6] = $7; if (!(key in seen)) { order[++n] = key; seen[key] = 1 } }
        END {
            for (k = 1; k <= n; k++) {
                s = order[k]; printf "%-5s %-4s %-12s %-5s %-9s", s, arc[s], ph[s], rg[s], tr[s]
                for (j = 1; j <= nm; j++) { a = ax[s, M[j]]; if (a == "nan") printf " %12s", "failed"; else printf " %+12.3f", a - tr[s] }
                printf "\n"
            }
        }' "$rows"
    echo "#"
    echo "# summary over scans: |error| in px (failed = no answer), time in s"
    printf '%-13s %6s %8s %8s %8s %8s %10s %10s\n' method failed median p90 max mean time_med time_max
    for m in $methods; do
        awk -v m="$m" '$6 == m {
                if ($7 == "nan") { fail++; next }
                e = $7 - $5; if (e < 0) e = -e; err[++n] = e; sum += e; t[n] = $8
            }
            END {
                for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) { if (err[j] < err[i]) { x = err[i]; err[i] = err[j]; err[j] = x } if (t[j] < t[i]) { x = t[i]; t[i] = t[j]; t[j] = x } }
                if (n == 0) { printf "%-13s %6d %8s %8s %8s %8s %10s %10s\n", m, fail, "-", "-", "-", "-", "-", "-"; exit }
                p90 = err[int(0.9 * (n - 1) + 1.5) > n ? n : int(0.9 * (n - 1) + 1.5)]
                printf "%-13s %6d %8.3f %8.3f %8.3f %8.3f %10.3f %10.3f\n", m, fail + 0, err[int((n + 1) / 2)], p90, err[n], sum / n, t[int((n + 1) / 2)], t[n]
            }' "$rows"
    done
} > "$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
