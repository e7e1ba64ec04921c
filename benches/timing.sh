# shellcheck shell=bash
# Timed runs shared by the whole-process benchmark scripts (sourced, not run).
#
# This machine's speed drifts by ±30% from minute to minute (a shared VM),
# so the scripts interleave their runs, one of each command per round, and
# keep every run in a file per command; the drift then falls on every
# command alike instead of on whichever was timed in a slow minute.
#
# Needs GNU time at /usr/bin/time and a `log` function from the caller.

# time_once LABEL RUNS_FILE OUT_FILE CMD: one run of CMD (word-split on
# purpose), its stdout to OUT_FILE (which may be /dev/null) and stderr to
# RUNS_FILE.err; appends "wall_seconds peak_rss_kb exit_code cpu_seconds"
# (user + system) to RUNS_FILE and logs it as LABEL.
time_once() {
    local label=$1 runs=$2 out=$3 cmd=$4 rc=0 w r u s
    # shellcheck disable=SC2086 # the command is word-split on purpose
    /usr/bin/time -f '%e %M %U %S' -o "$runs.time" $cmd >"$out" 2>"$runs.err" || rc=$?
    read -r w r u s < <(tail -n1 "$runs.time")
    local cpu
    cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
    echo "$w $r $rc $cpu" >>"$runs"
    log "  $label: ${w}s, ${cpu} CPU s, $(( r / 1024 )) MB RSS, exit $rc"
}

# summarize RUNS_FILE: prints "median_seconds peak_rss_kb last_exit_code".
summarize() {
    local runs=$1 median peak rc
    median=$(awk '{ print $1 }' "$runs" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
    peak=$(awk '{ print $2 }' "$runs" | sort -n | tail -n1)
    rc=$(tail -n1 "$runs" | awk '{ print $3 }')
    echo "$median $peak $rc"
}

# median_cpu RUNS_FILE: prints the median CPU seconds (user + system) of the
# runs, the work a command did whatever the cores and the scheduling.
median_cpu() {
    awk '{ print $4 }' "$1" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
